"""Resolve the run configuration: DEFAULTS <- params.yaml <- its profile <- command-line overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from components import defaults
from components.errors import ConfigError


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_params(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(params).__name__}")
    return params


def parse_override(text: str) -> tuple[list[str], Any]:
    """`train.steps=20` -> (["train", "steps"], 20); the value is read as YAML so numbers and lists work."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY.PATH=VALUE")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def load_config(
    root: Path | None = None,
    profile: str | None = None,
    overrides: list[str] | dict | None = None,
) -> dict:
    root = Path(root) if root else defaults.project_root()
    params = read_params(root / "params.yaml")
    cfg = deep_merge(defaults.DEFAULTS, params)
    name = profile or cfg.get("profile") or "quick"
    profiles = cfg.get("profiles") or {}
    if name not in profiles and name != "quick":
        raise ConfigError(f"profile {name!r} is not in params.yaml profiles (have: {sorted(profiles)})")
    cfg = deep_merge(cfg, profiles.get(name, {}))
    cfg["profile"] = name
    if isinstance(overrides, dict):
        cfg = deep_merge(cfg, overrides)
    else:
        for text in overrides or []:
            keys, value = parse_override(text)
            node = cfg
            for k in keys[:-1]:
                node = node.setdefault(k, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"override {text!r}: {k!r} is not a mapping")
            node[keys[-1]] = value
    if isinstance(cfg["families"], str):
        cfg["families"] = [f for f in cfg["families"].split(",") if f]
    cfg.pop("profiles", None)
    return cfg
