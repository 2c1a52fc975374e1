"""Prefect flows and the `genzoo` command. Importing this package sets the stack's offline defaults first."""

from components.defaults import apply_env_defaults

apply_env_defaults()
