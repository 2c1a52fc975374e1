"""One pipeline invocation: the validated configuration, the project root, and what is memoised for it (data
hashes, stage keys, the datasets' tensors). Build one per invocation and hand it to every stage. What MLflow
needs of an invocation (its tags and parent runs) is `runs`, kept in tracking/."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components import defaults
from components.config import Config
from components.data import sources, store, tensors
from components.evaluation.classifier import Space
from components.pipeline import keys
from components.pipeline.results import ClassifierReady
from components.pipeline.stage import HP, Node, inputs_of
from components.pipeline.targets import datasets_of, members
from components.tracking.runs import StageRuns

if TYPE_CHECKING:
    import torch

    from components.evaluation.scoring import Reference

# keys that change how a stage reports, not what it computes
NOT_IN_KEY = {"train": ("progress",)}


class Context:
    def __init__(self, cfg: Config, root: Path | None = None, force: bool = False, nest: bool = False):
        """`nest`: the stage runs this invocation starts are children of one parent run per experiment (the
        Prefect flow sets it; `genzoo stage`, one process per stage, does not)."""
        self.cfg = cfg
        self.root = Path(root) if root else defaults.project_root()
        self.force = force
        self.runs = StageRuns(self.root, cfg.profile, cfg.families, self.dataset_hash,
                              lambda target: datasets_of(cfg, target), nest)
        self._keys: dict[Node, str] = {}
        self._hashes: dict[str, str] = {}
        self._params = cfg.model_dump()  # what keys read params from (the configuration does not change)
        self._params["train"]["precision"] = self._loop_precision()  # auto -> what this machine trains in

    def _loop_precision(self) -> str:
        from components.training.loop import LoopConfig

        return LoopConfig.from_cfg(self.cfg.train, self.cfg.seed).precision

    @property
    def data_dir(self) -> Path:
        return self.root / defaults.DATA_DIR

    def stage_dir(self, node: Node) -> Path:
        """Where the node's outputs are published: its `latest` link points at the newest result."""
        base = self.root / defaults.OUTPUTS_DIR / node.target
        return base / node.family / node.stage.name if node.family else base / node.stage.name

    def out_dir(self, node: Node) -> Path:
        """The node's own outputs, one folder per key: concurrent runs with other settings never share one."""
        return self.stage_dir(node) / self.key(node)[:12]

    def state_dir(self, *parts: str) -> Path:
        """Scratch and caches that are not outputs: .genzoo/<parts> (checkpoints, floors, Inception features)."""
        return self.root.joinpath(defaults.STATE_DIR, *parts)

    def checkpoint_dir(self, node: Node) -> Path:
        return self.state_dir("checkpoints", node.target, str(node.family), self.key(node)[:16])

    def dataset_hash(self, target: str) -> str:
        """The content hash of data/<dataset>, or of a pair's two members."""
        if target not in self._hashes:
            pair = members(self.cfg, target)
            path = self.data_dir / target
            self._hashes[target] = (keys.digest([self.dataset_hash(m) for m in pair]) if pair
                                    else store.content_hash(path) if path.is_dir() else "missing")
        return self._hashes[target]

    def data_id(self, target: str) -> str:
        """"<target>-<content hash>": how caches keyed by data (floors, Inception real side) name a data version."""
        return f"{target}-{self.dataset_hash(target)}"

    def data_changed(self) -> None:
        """prepare just wrote under data/: forget every data hash and every key that depended on one."""
        self._hashes.clear()
        self._keys.clear()

    def key(self, node: Node) -> str:
        """The stage's real inputs: data, params, code, upstream keys and (when it tracks) the tracking store."""
        if node not in self._keys:
            from components.tracking.store import store_id

            spec = node.stage
            parts = {
                "node": [spec.name, node.target, node.family],
                "params": {p: self.param(p, node.family) for p in spec.params},
                "code": keys.code_hash(*spec.modules(node.family)),
                "data": (sources.dataset_spec(node.target, self.cfg.data) if spec.keyed_by_source
                         else self.dataset_hash(node.target)),
                "upstream": {s: {t: self.key(n) for t, n in ns.items()} for s, ns in inputs_of(self.cfg, node).items()},
                "store": store_id(self.root) if spec.tracked else None,
            }
            self._keys[node] = keys.digest(parts)
        return self._keys[node]

    def param(self, dotted: str, family: str | None = None) -> Any:
        """A configuration value as a key sees it; a name that is not in the configuration raises (graph.py checks
        every stage's params when it loads, so this never hides a setting from a key)."""
        if dotted == HP and family is not None:
            return dataclasses.asdict(self.cfg.hp(family))
        node = self._params
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{dotted!r} is not a configuration key")
            node = node[part]
        if isinstance(node, dict):
            node = {k: v for k, v in node.items() if k not in NOT_IN_KEY.get(dotted, ())}
        return node

    def tensors(self, target: str) -> tensors.Tensors:
        """The validated dataset (or both domains of a pair) as torch tensors: uint8 NHWC images."""
        pair = members(self.cfg, target)
        if pair:
            a, b = (self.tensors(m) for m in pair)
            return tensors.pair(target, pair, a, b, self.cfg.seed)
        return tensors.load(self.data_dir, target, self.dataset_hash(target))

    def reference(self, target: str, classifiers: Iterable[ClassifierReady], device: torch.device) -> Reference:
        """How models of `target` are scored in this run (evaluation/scoring.py): its tensors, the reference
        spaces of its classifier stage results, the eval settings and where their caches live."""
        from components.evaluation.scoring import Reference

        return Reference(self.tensors(target), tuple(feature_space(c) for c in classifiers), self.cfg.eval,
                         self.cfg.champion_rule().ranked_by, self.cfg.seed, self.state_dir(),
                         self.data_id(target), self.cfg.train.progress)


def feature_space(classifier: ClassifierReady) -> Space:
    """A classifier stage's result as the feature space evaluation measures in."""
    return Space(classifier.feature_space, Path(classifier.model), Path(classifier.features), classifier.floor)
