"""The pipeline's stages, called alike by the Prefect flow (flows/pipeline.py) and by dvc.yaml
(`genzoo stage NAME`): prepare -> validate -> classifier -> train -> evaluate -> register.

Each stage has a key made of its real inputs: the dataset's content hash, the params it reads, the source of
the code it runs, the tracking store it writes to, and its upstream stages' keys. A stage whose outputs
already carry its key returns them without running again; Prefect's cache uses the same key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from components import defaults
from components.data import sources, store
from components.errors import DataError
from components.training.loop import to_float_images, to_uint8_images

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent
MARKER = "stage.json"


@dataclass(frozen=True)
class Stage:
    name: str
    code: tuple[str, ...]  # paths under components/ whose source is part of the key (dvc.yaml deps match)
    params: tuple[str, ...]  # config keys it reads; "family.{family}" is filled in per family
    upstream: tuple[str, ...]
    per_family: bool = False
    tracked: bool = False  # writes to MLflow: the tracking URI is part of its key


STAGES: dict[str, Stage] = {s.name: s for s in [
    Stage("prepare", ("stages.py", "data", "versioning.py"), ("data",), ()),
    Stage("validate", ("stages.py", "data", "validation"), ("validation",), ("prepare",), tracked=True),
    Stage("classifier", ("stages.py", "data", "evaluation/classifier.py", "evaluation/metrics.py", "training"),
          ("classifier", "seed", "eval.num_samples", "eval.prc_k", "eval.prdc_k", "eval.max_prdc_samples"),
          ("validate",), tracked=True),
    Stage("train", ("stages.py", "data", "models", "training"), ("train", "family.{family}", "seed"),
          ("validate",), per_family=True, tracked=True),
    Stage("evaluate", ("stages.py", "evaluation", "models"), ("eval", "seed"), ("classifier", "train"),
          per_family=True, tracked=True),
    Stage("register", ("stages.py", "tracking", "models"), ("registry",), ("evaluate",), per_family=True,
          tracked=True),
]}


# --- keys -----------------------------------------------------------------------------------------------------

def digest(obj) -> str:
    return hashlib.md5(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


_code_hash_cache: dict[tuple[str, ...], str] = {}


def code_hash(paths: tuple[str, ...]) -> str:
    if paths not in _code_hash_cache:
        h = hashlib.md5()
        for rel in paths:
            if rel.startswith("registry:"):  # a registry entry itself, not a file
                h.update(rel.encode() + b"\0")
                continue
            target = PACKAGE / rel
            files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
            for f in files:
                h.update(f.relative_to(PACKAGE).as_posix().encode() + b"\0" + f.read_bytes())
        _code_hash_cache[paths] = h.hexdigest()
    return _code_hash_cache[paths]


def family_code(paths: tuple[str, ...], family: str | None) -> tuple[str, ...]:
    """Narrow "models" to what one family runs (the shared base, its own package and its registry entry), so
    adding or editing another family never invalidates this one's outputs."""
    if family is None or "models" not in paths:
        return paths
    from components.models.registry import get_family

    fam = get_family(family)
    package = fam.target.split(":")[0].split(".")[2]  # components.models.<package>.<module>
    own = ("models/base.py", "models/likelihoods.py", f"models/{package}", f"registry:{fam}")
    return tuple(p for p in paths if p != "models") + own


def _lookup(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


class Context:
    """One pipeline invocation: the resolved config and the project root, with keys memoised."""

    def __init__(self, cfg: dict, root: Path | None = None, force: bool = False):
        self.cfg = cfg
        self.root = Path(root) if root else defaults.project_root()
        self.force = force
        self._keys: dict[tuple, str] = {}
        self._hashes: dict[str, str] = {}

    def data_dir(self) -> Path:
        return self.root / defaults.DATA_DIR

    def out_dir(self, stage: str, dataset: str, family: str | None = None) -> Path:
        base = self.root / defaults.OUTPUTS_DIR / dataset
        return base / family / stage if family else base / stage

    def members(self, dataset: str) -> tuple[str, str] | None:
        """(A, B) when `dataset` names a domain pair (translation families train on pairs), else None."""
        return sources.pair_members(dataset, self.cfg["data"])

    def dataset_hash(self, dataset: str) -> str:
        if dataset not in self._hashes:
            members = self.members(dataset)
            path = self.data_dir() / dataset
            self._hashes[dataset] = (digest([self.dataset_hash(m) for m in members]) if members
                                     else store.content_hash(path) if path.is_dir() else "missing")
        return self._hashes[dataset]

    def key(self, stage: str, dataset: str, family: str | None = None) -> str:
        from components.tracking.store import tracking_uri

        spec = STAGES[stage]
        fam = family if spec.per_family else None
        memo = (stage, dataset, fam)
        members = None if spec.per_family else self.members(dataset)
        if memo not in self._keys and members:  # a pair's data stages are its members' own stages
            self._keys[memo] = digest([self.key(stage, m) for m in members])
        if memo not in self._keys:
            params = {p: _lookup(self.cfg, p.format(family=fam)) for p in spec.params}
            parts = {
                "stage": stage, "dataset": dataset, "family": fam, "params": params,
                "code": code_hash(family_code(spec.code, fam)),
                "data": _source_spec(self, dataset) if stage == "prepare" else self.dataset_hash(dataset),
                "upstream": [self.key(u, dataset, family) for u in spec.upstream],
                "store": tracking_uri(self.root) if spec.tracked else None,
            }
            self._keys[memo] = digest(parts)
        return self._keys[memo]

    def done(self, stage: str, dataset: str, family: str | None = None) -> dict | None:
        """The stored result when the stage's outputs carry its current key and still exist."""
        if self.force:
            return None
        marker = self.out_dir(stage, dataset, family if STAGES[stage].per_family else None) / MARKER
        return read_marker(marker, self.key(stage, dataset, family), self.root)


def read_marker(marker: Path, key: str, root: Path) -> dict | None:
    """The result stored in `marker` if it was written under `key` and its files and MLflow run still exist."""
    if not marker.exists():
        return None
    try:
        saved = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    if saved.get("key") != key:
        return None
    result = saved["result"]
    if not all(Path(p).exists() for p in result.get("files", [])):
        return None
    if result.get("run_id") and not _run_exists(root, result["run_id"]):
        return None
    return result


def write_marker(marker: Path, key: str, result: dict) -> None:
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=2) + "\n")
    tmp.replace(marker)


def _source_spec(ctx: Context, dataset: str) -> dict:
    """prepare's input is the source itself (what is asked for), not the files it writes."""
    return sources.dataset_spec(dataset, ctx.cfg["data"])


def _run_exists(root: Path, run_id: str) -> bool:
    import mlflow
    from mlflow.exceptions import MlflowException

    from components.tracking.store import tracking_uri

    try:
        mlflow.MlflowClient(tracking_uri(root)).get_run(run_id)
        return True
    except MlflowException:
        return False


def run_stage(ctx: Context, stage: str, dataset: str, family: str | None = None) -> dict:
    """Run one stage unless its outputs already carry its key; write the marker last."""
    spec = STAGES[stage]
    fam = family if spec.per_family else None
    members = None if spec.per_family else ctx.members(dataset)
    if members:  # a domain pair's data stages are its two datasets' own
        return {m: run_stage(ctx, stage, m) for m in members}
    saved = ctx.done(stage, dataset, fam)
    if saved is not None:
        log.info("%s %s%s: up to date", stage, dataset, f"/{fam}" if fam else "")
        return saved
    from components.training.distributed import current

    main = current().main  # under torchrun, only rank 0 writes outputs and markers
    out = ctx.out_dir(stage, dataset, fam)
    marker = out / MARKER
    if marker.exists() and main:
        marker.unlink()  # outputs are being rewritten: never leave a marker that vouches for them
    out.mkdir(parents=True, exist_ok=True)
    fn: Callable = IMPLEMENTATIONS[stage]
    result = fn(ctx, dataset, fam, out) if spec.per_family else fn(ctx, dataset, out)
    if not main:
        return result
    if stage == "prepare":  # the data may have just been written: hashes and keys downstream change
        ctx._hashes.pop(dataset, None)
        ctx._keys.clear()
    write_marker(marker, ctx.key(stage, dataset, fam), result)
    return result


# --- the stages -----------------------------------------------------------------------------------------------

def prepare(ctx: Context, dataset: str, out: Path) -> dict:
    """Materialise data/<dataset>/ from its source; existing copies are kept. Asking for one embedded dataset
    materialises all of them: together they are the data/ that data.dvc pins."""
    from components.versioning import sync_data_pin

    names = list(defaults.EMBEDDED_DATASETS) if dataset in defaults.EMBEDDED_DATASETS else [dataset]
    created = []
    for name in names:
        if not (ctx.data_dir() / name).exists():
            log.info("materialising %s into %s", name, ctx.data_dir() / name)
            store.write(sources.fetch(name, ctx.cfg["data"]), name, ctx.data_dir())
            created.append(name)
    pin = sync_data_pin(ctx.root, ctx.data_dir()) if created else "unchanged"
    ctx._hashes.pop(dataset, None)
    path = ctx.data_dir() / dataset
    return {"dataset": dataset, "path": str(path), "hash": ctx.dataset_hash(dataset), "created": created,
            "data_pin": pin, "files": [str(path)]}


def validate(ctx: Context, dataset: str, out: Path) -> dict:
    import mlflow

    from components.errors import ValidationFailed
    from components.tracking import store as tstore
    from components.validation.gate import validate as run_gate

    ds = store.read(dataset, ctx.data_dir())
    tstore.setup(ctx.root, dataset)
    with mlflow.start_run(run_name=f"validate-{dataset}", tags=_tags(ctx, dataset, None, "validate")) as run:
        try:
            summary = run_gate(ds, ctx.cfg["validation"], out)
            failure = None
        except ValidationFailed as exc:
            summary, failure = json.loads((out / "summary.json").read_text()), exc
        mlflow.log_metrics({"validation_success": float(summary["success"]),
                            "validation_rows": summary["rows"],
                            "validation_failed_expectations": len(summary["failed"])})
        mlflow.log_artifact(str(out / "result.json"), "validation")
        mlflow.log_artifact(str(out / "summary.json"), "validation")
        mlflow.log_artifacts(str(out / "data_docs"), "validation/data_docs")
        if failure is not None:
            mlflow.set_tag("genzoo.validation", "failed")
            raise failure
    return {**summary, "run_id": run.info.run_id, "files": [summary["result_json"]]}


def classifier(ctx: Context, dataset: str, out: Path) -> dict:
    """Train the reference classifier and cache the real test split's features: the fast feature space."""
    import mlflow

    from components.evaluation import classifier as ref
    from components.evaluation import metrics
    from components.tracking import store as tstore

    ccfg, ecfg = ctx.cfg["classifier"], ctx.cfg["eval"]
    ds = _tensors(ctx, dataset)
    tstore.setup(ctx.root, dataset)
    with mlflow.start_run(run_name=f"classifier-{dataset}", tags=_tags(ctx, dataset, None, "classifier")) as run:
        mlflow.log_params({f"classifier.{k}": v for k, v in ccfg.items()})
        model = ref.train_classifier(ds["train_x"], ds["train_y"], len(ds["classes"]), ccfg, ctx.cfg["seed"],
                                     ctx.cfg["train"]["device"])
        acc = ref.accuracy(model, ds["test_x"], ds["test_y"])
        ref.save(model, out / "model.pt")
        dev = next(model.parameters()).device
        bs = int(ecfg["batch_size"])
        test_f, test_logits = metrics.extract(lambda x: (model.features(x), model(x)), ds["test_x"], bs, dev)
        # the floor: N real training images against the test split, the FID a perfect model would get
        n = min(int(ecfg["num_samples"]), len(ds["train_x"]))
        g = torch.Generator().manual_seed(ctx.cfg["seed"])
        subset = ds["train_x"][torch.randperm(len(ds["train_x"]), generator=g)[:n]]
        train_f, train_logits = metrics.extract(lambda x: (model.features(x), model(x)), subset, bs, dev)
        floor = metrics.sample_quality(test_f, train_f, "classifier", prc_k=ecfg["prc_k"], prdc_k=ecfg["prdc_k"],
                                       max_prdc=ecfg["max_prdc_samples"])
        is_mean, _ = metrics.inception_score(train_logits)
        floor = {f"floor_{k}": v for k, v in floor.items()} | {"floor_is_classifier": is_mean}
        torch.save({"features": test_f, "logits": test_logits}, out / "test_features.pt")
        result = {"test_accuracy": acc, "model": str(out / "model.pt"), **floor}
        mlflow.log_metrics({"test_accuracy": acc, **floor})
        (out / "metrics.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        mlflow.log_artifact(str(out / "metrics.json"))
    feature_space = f"classifier:{ctx.key('classifier', dataset)[:12]}"
    return {**result, "feature_space": feature_space, "run_id": run.info.run_id,
            "files": [str(out / "model.pt"), str(out / "test_features.pt")]}


def train(ctx: Context, dataset: str, family: str, out: Path) -> dict:
    import mlflow

    from components.models.registry import get_family
    from components.tracking import store as tstore
    from components.training import distributed
    from components.training.loop import LoopConfig, fit

    fam = get_family(family)
    ds = _tensors(ctx, dataset)
    hp = {**ctx.cfg["family"].get(family, {}), **ds.get("hp", {})}  # a pair adds its domains' channel split
    loop_cfg = LoopConfig.from_cfg(ctx.cfg["train"], int(ctx.cfg["seed"]))
    world = distributed.current()
    image_shape = (ds["train_x"].shape[-1], *ds["train_x"].shape[1:3])
    key = ctx.key("train", dataset, family)
    ckpt_dir = ctx.root / defaults.STATE_DIR / "checkpoints" / dataset / family / key[:16]
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(int(ctx.cfg["seed"]))
    model = fam.build(image_shape, len(ds["classes"]), hp)
    if not world.main:  # another rank of a torchrun job: train its share, log nothing, write nothing
        fit(model, ds["train_x"], ds["train_y"], loop_cfg, ckpt_dir, rank=world.rank, world=world.size)
        distributed.gather_digests(model)
        return {}
    tstore.setup(ctx.root, dataset)
    run_file = ckpt_dir / "run.json"  # a resumed run keeps logging into the same MLflow run
    run_id = json.loads(run_file.read_text())["run_id"] if run_file.exists() else None
    if run_id and not _run_exists(ctx.root, run_id):
        run_id = None
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else family,
                          tags=None if run_id else _tags(ctx, dataset, family, "train")) as run:
        run_file.write_text(json.dumps({"run_id": run.info.run_id}))
        if not run_id:
            mlflow.log_params({"family": family, "dataset": dataset, "seed": ctx.cfg["seed"],
                               "profile": ctx.cfg["profile"], "kind": fam.kind,
                               **{f"hp.{k}": v for k, v in hp.items()},
                               **{f"train.{k}": v for k, v in ctx.cfg["train"].items()},
                               "train.world_size": world.size,
                               "train.effective_batch_size": int(ctx.cfg["train"]["batch_size"]) * world.size})

        def on_log(step, means):
            mlflow.log_metrics({f"train/{k}": v for k, v in means.items()}, step=step, synchronous=False)

        try:
            res = fit(model, ds["train_x"], ds["train_y"], loop_cfg, ckpt_dir, on_log=on_log, world=world.size)
            digests = distributed.gather_digests(model)  # one per rank: equal when the ranks stayed in step
        except Exception:
            mlflow.set_tag("genzoo.failed_stage", "train")
            raise  # the context manager marks the run FAILED
        save_model(model, family, dataset, ds, out)
        (out / "history.json").write_text(json.dumps(res.history) + "\n")
        mlflow.log_metric("train/steps", res.steps)
    return {"run_id": run.info.run_id, "steps": res.steps, "resumed_from": res.resumed_from, "world_size": world.size,
            "rank_digests": digests, "model": str(out / "model.pt"),
            "files": [str(out / "model.pt"), str(out / "model.json")]}


def evaluate(ctx: Context, dataset: str, family: str, out: Path) -> dict:
    import mlflow

    from components.evaluation import plots
    from components.tracking import store as tstore
    from components.tracking.pyfunc import build_model
    from components.training.loop import pick_device

    tstore.setup(ctx.root, dataset)
    ecfg = ctx.cfg["eval"]
    trained = ctx.out_dir("train", dataset, family)
    run_id = json.loads((trained / MARKER).read_text())["result"]["run_id"]
    device = pick_device(ctx.cfg["train"]["device"])
    spec = json.loads((trained / "model.json").read_text())
    model = build_model(spec, trained / "model.pt", str(device))
    if model.kind == "translation":
        return _evaluate_translation(ctx, dataset, family, model, trained, out, run_id, device)
    m, fake, feature_space = sample_metrics(ctx, dataset, model, int(ecfg["num_samples"]), device)
    pictures = []
    if hasattr(model, "likelihood_metrics"):  # VAEs (bounds) and autoregressive models (exact)
        ds = _tensors(ctx, dataset)
        n = min(int(ecfg["likelihood_images"]), len(ds["test_x"]))
        x, y = to_float_images(ds["test_x"][:n]).to(device), ds["test_y"][:n].to(device)
        m.update(model.likelihood_metrics(x, y, int(ecfg["iwae_k"]), int(ecfg["batch_size"]) // 5,
                                          seed=int(ctx.cfg["seed"])))
        if hasattr(model, "artifacts"):
            pictures = model.artifacts(x, y, out)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    grid = save_samples(fake, ecfg, out)
    history = json.loads((trained / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{dataset} / {family}")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(m)
        mlflow.set_tag(defaults.TAG_FEATURE_SPACE, feature_space)
        for f in (metrics_path, grid, curves, *pictures):
            mlflow.log_artifact(str(f), "evaluation")
    return {"run_id": run_id, "metrics": m, "feature_space": feature_space, "samples": str(grid),
            "files": [str(metrics_path), str(grid)]}


def _evaluate_translation(ctx: Context, pair: str, family: str, model, trained: Path, out: Path, run_id: str,
                          device) -> dict:
    """Both directions in each target domain's classifier space; label preservation when the domains share
    labelled classes (the default digits pair does)."""
    import mlflow

    from components.evaluation import plots
    from components.evaluation.translation import translation_grid, translation_metrics

    ds = _tensors(ctx, pair)
    spaces, floors, names = {}, {}, []
    for side, member in zip("ab", ds["members"]):
        clf, real, clf_result = classifier_space(ctx, member, device)
        spaces[side] = (clf, real)
        floors[f"floor_fid_classifier_{side}"] = clf_result["floor_fid_classifier"]
        names.append(clf_result["feature_space"])
    labelled = ds["a_classes"] == ds["b_classes"] and len(ds["a_classes"]) > 1
    m = {**translation_metrics(model, ds, spaces, ctx.cfg["eval"], device, labelled), **floors}
    feature_space = "+".join(names)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    grid = translation_grid(model, ds, device, out / "translations.png")
    history = json.loads((trained / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{pair} / {family}")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(m)
        mlflow.set_tag(defaults.TAG_FEATURE_SPACE, feature_space)
        for f in (metrics_path, grid, curves):
            mlflow.log_artifact(str(f), "evaluation")
    return {"run_id": run_id, "metrics": m, "feature_space": feature_space, "samples": str(grid),
            "files": [str(metrics_path), str(grid)]}


def save_model(model, family: str, dataset: str, ds: dict, out: Path) -> None:
    """model.pt (weights only) + model.json (what rebuilds it): what evaluation, registry and serving load."""
    spec = {"family": family, "kind": model.kind, "hp": model.hp, "image_shape": list(model.image_shape),
            "num_classes": len(ds["classes"]), "classes": ds["classes"], "dataset": dataset,
            **({"members": ds["members"]} if "members" in ds else {})}
    torch.save(model.state_dict(), out / "model.pt")
    (out / "model.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")


def save_samples(fake_uint8: torch.Tensor, ecfg: dict, out: Path) -> Path:
    """The first eval.grid_size samples (uint8 NHWC) as out/samples.png."""
    from components.evaluation import plots

    return plots.save_grid(to_float_images(fake_uint8[: int(ecfg["grid_size"])]), out / "samples.png")


def sample_cap(ecfg: dict, kind: str, n: int) -> int:
    """n, capped by eval.sample_limit for families that sample slowly (pixel by pixel)."""
    return min(n, int((ecfg.get("sample_limit") or {}).get(kind, n)))


def generate(model, n: int, batch_size: int, seed: int, device, progress: bool = False) -> torch.Tensor:
    """n samples as uint8 NHWC, drawn from a generator seeded with `seed` (same seed, same images).
    `progress` shows a bar for the families that sample pixel by pixel."""
    rng = torch.Generator(device=device).manual_seed(seed)
    kw = {"progress": True} if progress and model.kind == "autoregressive" else {}
    return torch.cat([to_uint8_images(model.sample(min(batch_size, n - i), rng, **kw))
                      for i in range(0, n, batch_size)])


def classifier_space(ctx: Context, dataset: str, device):
    """(classifier, real test features dict, classifier stage result) of the dataset's reference classifier."""
    from components.evaluation import classifier as ref

    clf_out = ctx.out_dir("classifier", dataset)
    clf_result = json.loads((clf_out / MARKER).read_text())["result"]
    real = torch.load(clf_out / "test_features.pt", weights_only=True)
    return ref.load(clf_out / "model.pt", str(device)), real, clf_result


def sample_metrics(ctx: Context, dataset: str, model, n: int, device) -> tuple[dict, torch.Tensor, str]:
    """Every sample-quality metric of `model` on n samples: classifier space (FID, P/R/F1, density, coverage,
    IS, and the train-vs-test floor), plus Inception space when eval.inception is on."""
    from components.evaluation import metrics

    ecfg = ctx.cfg["eval"]
    bs = int(ecfg["batch_size"])
    n = sample_cap(ecfg, model.kind, n)  # m["num_samples"] says how many
    started = time.perf_counter()
    fake = generate(model, n, bs, int(ctx.cfg["seed"]) + 1, device, progress=bool(ctx.cfg["train"]["progress"]))
    seconds_per_image = (time.perf_counter() - started) / n
    clf, real, clf_result = classifier_space(ctx, dataset, device)
    fake_f, fake_logits = metrics.extract(lambda x: (clf.features(x), clf(x)), fake, bs, device)
    m = metrics.sample_quality(real["features"], fake_f, "classifier", prc_k=ecfg["prc_k"],
                               prdc_k=ecfg["prdc_k"], max_prdc=ecfg["max_prdc_samples"])
    m["is_classifier"], m["is_classifier_std"] = metrics.inception_score(fake_logits)
    m.update({k: v for k, v in clf_result.items() if k.startswith("floor_")})
    m["num_samples"] = float(n)
    m["sample_seconds_per_image"] = seconds_per_image  # on this run's device, batch eval.batch_size
    if ecfg.get("inception"):
        m.update(_inception_metrics(ctx, dataset, fake, ecfg, device))
    return m, fake, clf_result["feature_space"]


def register(ctx: Context, dataset: str, family: str, out: Path) -> dict:
    ev = json.loads((ctx.out_dir("evaluate", dataset, family) / MARKER).read_text())["result"]
    result = register_generator(ctx, dataset, family, ctx.out_dir("train", dataset, family), ev["metrics"],
                                ev["feature_space"], ev["run_id"])
    (out / "registration.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def register_generator(ctx: Context, dataset: str, family: str, model_dir: Path, metrics: dict,
                       feature_space: str, run_id: str) -> dict:
    """Log the generator in model_dir (model.pt + model.json) as a pyfunc into run `run_id`, register it as
    <dataset>-<family> and apply the champion rule. Shared by the register stage and the study."""
    import mlflow

    from components.tracking import pyfunc, promotion
    from components.tracking import store as tstore

    tstore.setup(ctx.root, dataset)
    metric = ctx.cfg["registry"]["metric"]
    if metric not in metrics:
        raise DataError(f"registry.metric={metric!r} was not measured; have {sorted(metrics)}")
    spec = json.loads((model_dir / "model.json").read_text())
    name = f"{dataset}-{family}"
    sig, example = pyfunc.signature_and_example(spec)
    with mlflow.start_run(run_id=run_id) as run:
        info = mlflow.pyfunc.log_model(
            name="generator",
            python_model=str(PACKAGE / "tracking" / "pyfunc_model.py"),
            artifacts={"weights": str(model_dir / "model.pt"), "spec": str(model_dir / "model.json")},
            code_paths=[str(PACKAGE)],
            signature=sig,
            input_example=example,
            pip_requirements=pyfunc.pip_requirements(),
            registered_model_name=name,
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        space = feature_space if metric.endswith("_classifier") else metric.rsplit("_", 1)[-1]
        decision = promotion.promote(client, name, version, metric, float(metrics[metric]), space,
                                     bool(ctx.cfg["registry"]["lower_is_better"]))
        for k, v in _tags(ctx, dataset, family, "register").items():
            client.set_model_version_tag(name, version, k, v)
        mlflow.set_tags({defaults.TAG_DECISION: decision.alias, defaults.TAG_REASON: decision.reason,
                         "genzoo.registered_version": version})
        log.info("%s v%s -> %s: %s", name, version, decision.alias, decision.reason)
    return {"name": name, "version": version, "alias": decision.alias, "reason": decision.reason,
            "run_id": run.info.run_id, "model_uri": f"models:/{name}/{version}"}


IMPLEMENTATIONS = {"prepare": prepare, "validate": validate, "classifier": classifier, "train": train,
                   "evaluate": evaluate, "register": register}


# --- helpers --------------------------------------------------------------------------------------------------

_tensor_cache: dict[tuple[str, str], dict] = {}


def _tensors(ctx: Context, dataset: str) -> dict:
    """The validated dataset as torch tensors (uint8 NHWC); the gate has already run on these files."""
    members = ctx.members(dataset)
    if members:
        return _pair_tensors(ctx, dataset, members)
    memo = (str(ctx.data_dir()), ctx.dataset_hash(dataset))
    if memo not in _tensor_cache:
        ds = store.read(dataset, ctx.data_dir())
        a = {k: torch.from_numpy(v.astype("uint8" if "images" in k else "int64")) for k, v in ds.arrays.items()}
        _tensor_cache.clear()
        _tensor_cache[memo] = {"train_x": a["train_images"], "train_y": a["train_labels"],
                               "test_x": a["test_images"], "test_y": a["test_labels"], "classes": ds.classes}
    return _tensor_cache[memo]


def _pair_tensors(ctx: Context, pair: str, members: tuple[str, str]) -> dict:
    """Both domains for the training loop: each A image (channels first) beside an independently shuffled B
    image, as many rows as the larger domain. Test splits stay separate ("a_test_x", "b_test_x", ...)."""
    (a, b) = [dict(_tensors(ctx, m)) for m in members]
    if a["train_x"].shape[1:3] != b["train_x"].shape[1:3]:
        raise DataError(f"pair {pair}: {members[0]} is {tuple(a['train_x'].shape[1:3])} but {members[1]} is "
                        f"{tuple(b['train_x'].shape[1:3])}; both domains need the same height and width")
    n = max(len(a["train_x"]), len(b["train_x"]))
    g = torch.Generator().manual_seed(int(ctx.cfg["seed"]))
    ia = torch.arange(n) % len(a["train_x"])
    ib = torch.randperm(n, generator=g) % len(b["train_x"])
    out = {"train_x": torch.cat([a["train_x"][ia], b["train_x"][ib]], dim=-1), "train_y": a["train_y"][ia],
           "classes": a["classes"], "members": list(members), "hp": {"channels_a": int(a["train_x"].shape[-1])}}
    for side, d in (("a", a), ("b", b)):
        out.update({f"{side}_test_x": d["test_x"], f"{side}_test_y": d["test_y"], f"{side}_classes": d["classes"]})
    return out


def _tags(ctx: Context, dataset: str, family: str | None, stage: str) -> dict[str, str]:
    from components.tracking.store import data_version, git_commit

    tags = {
        defaults.TAG_DATASET: dataset,
        defaults.TAG_DATA_VERSION: data_version(ctx.root),
        defaults.TAG_DATASET_HASH: ctx.dataset_hash(dataset),
        defaults.TAG_GIT_COMMIT: git_commit(ctx.root),
        "genzoo.stage": stage,
        "genzoo.profile": str(ctx.cfg["profile"]),
    }
    if family:
        from components.models.registry import get_family

        tags[defaults.TAG_FAMILY] = family
        tags["genzoo.kind"] = get_family(family).kind
    return tags


def _inception_metrics(ctx: Context, dataset: str, fake: torch.Tensor, ecfg: dict, device) -> dict:
    """fid_inception et al.; the real test split's features are cached per data version and weights file."""
    from components.evaluation import metrics
    from components.evaluation.inception import InceptionFeatures

    net = InceptionFeatures(ecfg.get("inception_weights")).to(device)
    weights_id = hashlib.md5(net.path.read_bytes()).hexdigest()[:12]
    cache = ctx.root / defaults.STATE_DIR / "inception" / f"{dataset}-{ctx.dataset_hash(dataset)}-{weights_id}.pt"
    bs = int(ecfg["inception_batch_size"])
    if cache.exists():
        real = torch.load(cache, weights_only=True)
    else:
        (real,) = metrics.extract(net, _tensors(ctx, dataset)["test_x"], bs, device)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(real, cache.with_suffix(".tmp"))
        shutil.move(cache.with_suffix(".tmp"), cache)
    kw = {"prc_k": ecfg["prc_k"], "prdc_k": ecfg["prdc_k"], "max_prdc": ecfg["max_prdc_samples"]}
    (fake_f,) = metrics.extract(net, fake, bs, device)
    out = metrics.sample_quality(real, fake_f, "inception", **kw)
    floor = cache.with_name(cache.stem + f"-floor{len(fake)}.json")
    if not floor.exists():  # N training images against the test split, once per data version
        train_x = _tensors(ctx, dataset)["train_x"]
        g = torch.Generator().manual_seed(int(ctx.cfg["seed"]))
        (train_f,) = metrics.extract(net, train_x[torch.randperm(len(train_x), generator=g)[:len(fake)]], bs, device)
        floor.write_text(json.dumps(metrics.sample_quality(real, train_f, "inception", **kw)))
    out.update({f"floor_{k}": v for k, v in json.loads(floor.read_text()).items()})
    return out
