"""Resolve a run's configuration: DEFAULTS <- profile <- params.yaml <- `--set`, then validate it.

params.yaml's explicit keys beat its profile's, so `dvc exp run -S train.steps=40` changes what runs; `--set`
beats both. A null among params.yaml's own keys means "the profile's value": params.yaml lists the knobs DVC
experiments turn that way, since `dvc exp run -S` only overrides keys that exist. Every problem is one
ConfigError naming the key, where it was set and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from components import defaults
from components.config.merge import deep_merge
from components.config.schema import DEFAULTS, RETIRED, Config
from components.errors import ConfigError, DataError


def without_nulls(params: dict) -> dict:
    """params.yaml's own keys less those set to null (= take the profile's value)."""
    return {k: without_nulls(v) if isinstance(v, dict) else v for k, v in params.items() if v is not None}


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: `1e-3` is a number (PyYAML's YAML 1.1 reads it as a string,
    which the strict schema would then refuse), as DVC's YAML 1.2 parser reads params.yaml. A key given twice in
    one mapping is refused, as DVC's parser refuses it (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base`: the mapping's own keys override the merged ones, as YAML means
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    continue  # an unhashable key: the schema refuses it
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        f"while reading a mapping (line {node.start_mark.line + 1})", node.start_mark,
                        f"the key {key!r} is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}); "
                        "DVC refuses such a file too: keep one", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def read_params(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        params = yaml.load(path.read_text(), Loader=Loader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({one_line(exc)})") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(params).__name__}")
    return params


def one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: the problem and its line (PyYAML's own text spans several, with a snippet)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


def parse_override(text: str) -> dict:
    """`train.steps=20` -> {"train": {"steps": 20}}; the value is read as YAML so numbers and lists work."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY.PATH=VALUE")
    try:
        value = yaml.load(raw, Loader=Loader)
    except yaml.YAMLError:
        value = raw
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value


def load_config(root: Path | None = None, profile: str | None = None,
                overrides: list[str | dict] | list[str] | dict | None = None,
                **fields: Any) -> Config:
    """The validated configuration of a run. `fields` (dataset=, families=) act like `--set` of top-level keys."""
    root = Path(root) if root else defaults.project_root()
    params = read_params(root / "params.yaml")
    profiles = params.pop("profiles", None) or {}
    params = without_nulls(params)
    cli: dict = {}
    for item in ([overrides] if isinstance(overrides, dict) else overrides or []):
        cli = deep_merge(cli, item if isinstance(item, dict) else parse_override(item))
    options = {f"--{k}": {k: v} for k, v in fields.items() if v is not None}  # the command's own options
    name = str(profile or cli.get("profile") or params.get("profile") or DEFAULTS["profile"])
    if name not in profiles and name != DEFAULTS["profile"]:
        raise ConfigError(f"profile {name!r}: not in params.yaml's profiles (have: {', '.join(sorted(profiles))})")
    layers = {**options, "--set": cli, "params.yaml": params,
              f"profiles.{name} in params.yaml": profiles.get(name) or {}}  # first: what wins and is blamed
    merged = DEFAULTS
    for layer in reversed(list(layers.values())):
        merged = deep_merge(merged, layer)
    merged["profile"] = name
    try:
        cfg = Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(describe(exc.errors()[0], layers)) from None
    check_datasets(cfg, layers)
    check_batch(cfg, root, layers)
    try:
        cfg.champion_rule()  # a registry.metric the run's dataset cannot measure fails now, not after training
    except ConfigError as exc:
        where = next((label for label, layer in layers.items() if _has(layer, (exc.key or "").split("."))), "defaults")
        raise ConfigError(f"{where}: {exc}", key=exc.key) from None
    return cfg


def check_datasets(cfg: Config, layers: dict[str, dict] | None = None) -> None:
    """Every dataset the run names must resolve to a source or a pair, or nothing is worth starting; the error
    names the layer (an option, --set, params.yaml, a profile) that set it."""
    from components.data import sources

    named = [("dataset", cfg.dataset), ("pair", cfg.pair)] + [("study.datasets", d) for d in cfg.study.datasets]
    for key, name in named:
        try:
            if sources.pair_members(name, cfg.data) is None:
                if key == "pair":
                    raise DataError(f"{name!r} is not a domain pair; pairs: {', '.join(sources.pair_names(cfg.data))}")
                sources.dataset_spec(name, cfg.data)
        except DataError as exc:
            where = next((label for label, layer in (layers or {}).items() if _has(layer, key.split("."))), None)
            raise ConfigError(f"{where}: {key}: {exc}" if where and where != f"--{key}" else
                              f"{where or key}: {exc}") from None


def too_large_batch(cfg: Config, train_rows: int) -> str | None:
    """Why train.batch_size cannot train on a split of `train_rows` rows (every rank takes a whole batch), or
    None. Also asked by the validate stage, for data materialised after the configuration was loaded."""
    need = cfg.train.batch_size * cfg.train.world_size
    if need <= train_rows:
        return None
    ranks = f" x {cfg.train.world_size} ranks" if cfg.train.world_size > 1 else ""
    return (f"train.batch_size={cfg.train.batch_size}{ranks} is more than the {train_rows} rows of {cfg.dataset}'s "
            f"training split; allowed: 1 to {train_rows // cfg.train.world_size}")


def check_batch(cfg: Config, root: Path, layers: dict[str, dict]) -> None:
    """A batch larger than the training split cannot make one step: refused now when the dataset is already
    materialised (its meta.json counts the rows), else by the validate stage, still before any training."""
    import json

    try:
        rows = int(json.loads((root / defaults.DATA_DIR / cfg.dataset / "meta.json").read_text())["counts"]["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # not materialised yet (or unreadable: the data stage names that)
    problem = too_large_batch(cfg, rows)
    if problem:
        where = next((label for label, layer in layers.items() if _has(layer, ["train", "batch_size"])), "defaults")
        raise ConfigError(f"{where}: {problem}", key="train.batch_size")


def describe(err: Mapping[str, Any], layers: dict[str, dict]) -> str:
    """One line for a pydantic error: the dotted key, where it was set, the problem and what is allowed."""
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    where = next((label for label, layer in layers.items() if _has(layer, loc)), "defaults")
    if err["type"] == "extra_forbidden" and key in RETIRED:
        return f"{where}: {key} is retired: {RETIRED[key]}"
    if err["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        near = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {'.'.join(loc[:-1] + near)}?" if near else f"known here: {', '.join(known)}"
        return f"{where}: unknown key {key}; {hint}"
    if err["type"] == "value_error":
        cause = err["ctx"]["error"]
        message = str(cause)
        if getattr(cause, "key", None):  # a key below `loc` (a family's hyperparameter): its own layer
            where = next((label for label, layer in layers.items() if _has(layer, cause.key.split("."))), where)
            return f"{where}: {message}"
        named = not key or message.startswith(f"{key}.")  # the message already names the key in full
        return f"{where}: {message}" if named else f"{where}: {key}: {message}"
    expected = err.get("ctx", {}).get("expected")
    problem = f"expected one of {expected}" if expected else err["msg"].lower()
    return f"{where}: {key}={err.get('input')!r}: {problem}"


def _has(layer: dict, loc: list[str]) -> bool:
    node: Any = layer
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _known_keys(loc: list[str]) -> list[str]:
    model: type[BaseModel] | None = Config
    for part in loc:
        field = model.model_fields.get(part) if model else None
        ann = field.annotation if field else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return sorted(model.model_fields) if model else []
