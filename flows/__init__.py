"""Prefect flows and the `genzoo` command. Importing this package sets the stack's offline defaults first."""

import logging

from components.defaults import apply_env_defaults

apply_env_defaults()
if logging.getLogger("components").level == logging.NOTSET:  # genzoo's progress lines, also in Prefect's run logs
    logging.getLogger("components").setLevel(logging.INFO)
