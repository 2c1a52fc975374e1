"""The run configuration: typed defaults (schema.py) and how params.yaml and `--set` layer over them (load.py)."""

from components.config.load import load_config
from components.config.merge import deep_merge
from components.config.schema import Config

__all__ = ["Config", "deep_merge", "load_config"]
