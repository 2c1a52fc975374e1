"""One pipeline invocation: the validated configuration, the project root, and what is memoised for it (data
hashes, stage keys, the dataset's tensors). Build one per invocation and hand it to every stage."""

from __future__ import annotations

from pathlib import Path

from components import defaults
from components.config import Config
from components.data import sources, store, tensors
from components.pipeline import keys
from components.pipeline.graph import STAGES, Node, datasets_of, inputs_of, members

# keys that change how a stage reports, not what it computes
NOT_IN_KEY = {"train": ("progress",)}


class Context:
    def __init__(self, cfg: Config, root: Path | None = None, force: bool = False, nest: bool = False):
        """`nest`: the stage runs this invocation starts are children of one parent run per experiment (the
        Prefect flow sets it; `genzoo stage`, one process per stage, does not)."""
        self.cfg = cfg
        self.parent_runs: dict[str, str] | None = {} if nest else None
        self.root = Path(root) if root else defaults.project_root()
        self.force = force
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
        return base / node.family / node.stage if node.family else base / node.stage

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

    def data_changed(self) -> None:
        """prepare just wrote under data/: forget every data hash and every key that depended on one."""
        self._hashes.clear()
        self._keys.clear()

    def key(self, node: Node) -> str:
        """The stage's real inputs: data, params, code, upstream keys and (when it tracks) the tracking store."""
        if node not in self._keys:
            from components.tracking.store import store_id

            spec = STAGES[node.stage]
            parts = {
                "node": [node.stage, node.target, node.family],
                "params": {p: self.param(p, node.family) for p in spec.params},
                "code": keys.code_hash(*spec.modules(node.family)),
                "data": (sources.dataset_spec(node.target, self.cfg.data) if node.stage == "prepare"
                         else self.dataset_hash(node.target)),
                "upstream": {s: {t: self.key(n) for t, n in ns.items()} for s, ns in inputs_of(self.cfg, node).items()},
                "store": store_id(self.root) if spec.tracked else None,
            }
            self._keys[node] = keys.digest(parts)
        return self._keys[node]

    def param(self, dotted: str, family: str | None = None):
        if dotted == "hp":
            return self.cfg.hp(family)
        node = self._params
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node = {k: v for k, v in node.items() if k not in NOT_IN_KEY.get(dotted, ())}
        return node

    def tensors(self, target: str) -> dict:
        """The validated dataset (or both domains of a pair) as torch tensors: uint8 NHWC images."""
        if members(self.cfg, target):
            a, b = (self.tensors(m) for m in datasets_of(self.cfg, target))
            return tensors.pair(target, datasets_of(self.cfg, target), a, b, self.cfg.seed)
        return tensors.load(self.data_dir, target, self.dataset_hash(target))

    def tags(self, target: str, family: str | None, stage: str) -> dict[str, str]:
        from components.tracking.tags import run_tags

        return run_tags(self.root, target, self.dataset_hash(target), family, stage, self.cfg.profile,
                        datasets_of(self.cfg, target))

    def run_tags(self, target: str, family: str | None, stage: str) -> dict[str, str]:
        """tags() for a stage's MLflow run, which nests under this invocation's parent run when there is one."""
        tags = self.tags(target, family, stage)
        if self.parent_runs is not None:
            tags["mlflow.parentRunId"] = self.parent_run(target)
        return tags

    def parent_run(self, experiment: str) -> str:
        """This invocation's parent run in `experiment` (stage runs nest only within their own experiment)."""
        if experiment not in self.parent_runs:
            from components.tracking import store as tstore

            client = tstore.client(self.root)
            tags = {**self.tags(experiment, None, "pipeline"), "genzoo.families": ",".join(self.cfg.families)}
            self.parent_runs[experiment] = client.create_run(
                tstore.experiment_id(client, self.root, experiment), tags=tags,
                run_name=f"pipeline@{experiment}").info.run_id
        return self.parent_runs[experiment]

    def close_parent_runs(self, status: str) -> None:
        from components.tracking import store as tstore

        if self.parent_runs:
            client = tstore.client(self.root)
            for run_id in self.parent_runs.values():
                client.set_terminated(run_id, status)

    def inception_scorer(self, target: str, device):
        """samples -> Inception-space metrics of `target` (real side cached per data version), or None when
        eval.inception is off."""
        if not self.cfg.eval.inception:
            return None
        from components.evaluation.inception import inception_metrics

        ds, cache = self.tensors(target), self.state_dir("inception")
        data_id = f"{target}-{self.dataset_hash(target)}"
        return lambda fake: inception_metrics(fake, ds["test_x"], ds["train_x"], self.cfg.eval, cache, data_id,
                                              self.cfg.seed, device)
