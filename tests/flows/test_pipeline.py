import json
import shutil
import sqlite3

import mlflow
import numpy as np
import pandas as pd
import pytest

from components import defaults
from components.errors import GenzooError
from components.metric_specs import spec
from flows.pipeline import pipeline
from tests.conftest import registered_versions
from tests.flows.conftest import in_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

NAME = "mnist5k-nsgan"
METRICS = ["fid_classifier", "kid_x1e3_classifier", "kid_x1e3_classifier_subset_std", "is_classifier",
           "precision_classifier", "recall_classifier", "f1_classifier", "density_classifier", "coverage_classifier",
           "floor_fid_classifier", "floor_fid_classifier_seed_std"]


def test_flow_trains_evaluates_and_registers_a_champion(ran):
    root, summary = ran
    assert set(summary.states.values()) == {"Completed"}
    metrics = summary.families["nsgan"].evaluate.metrics
    assert all(np.isfinite(metrics[k]) for k in METRICS)
    assert all(spec(k).name == k for k in metrics)  # every logged metric has a spec: direction, unit, space
    assert metrics["floor_fid_classifier"] < metrics["fid_classifier"]  # 8 steps of training are far from data
    assert 1 <= metrics["is_classifier"] <= 10

    (version,) = registered_versions(root, NAME)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    assert client.get_model_version_by_alias(NAME, defaults.CHAMPION).version == version.version
    assert version.tags[defaults.TAG_DECISION] == "champion" and "first version" in version.tags[defaults.TAG_REASON]
    protocol = summary.families["nsgan"].evaluate.protocol
    assert version.tags["genzoo.eval_protocol"] == protocol and version.tags["eval_protocol.num_samples"] == "200"

    run = client.get_run(summary.families["nsgan"].train.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["fid_classifier"] == pytest.approx(metrics["fid_classifier"])
    assert run.data.params["family"] == "nsgan" and run.data.params["train.steps"] == "8"
    assert run.data.tags[defaults.TAG_DATA_VERSION] and run.data.tags[defaults.TAG_GIT_COMMIT]
    assert run.data.tags["genzoo.eval_protocol"] == protocol
    assert "train/d_loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/losses.png", "evaluation/metrics.json"} <= artifacts
    # the grid at the root, where every family's is: MLflow's Compare view pairs root files only
    assert "samples.png" in {a.path for a in client.list_artifacts(run.info.run_id) if not a.is_dir}
    assert (root / "outputs/mnist5k/nsgan/evaluate/latest/metrics.json").exists()
    # lined up in MLflow without clean-up: nested under the invocation's parent, named, its dataset and grid shown
    parent = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == "pipeline@mnist5k" and parent.info.status == "FINISHED"
    # ... which compares the families: the page and their metrics (the collapsed runs table shows the parent)
    assert parent.data.metrics["nsgan/fid_classifier"] == pytest.approx(metrics["fid_classifier"])
    page = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="comparison.html",
                                               tracking_uri=uri)
    text = open(page, encoding="utf-8").read()
    assert "nsgan (mnist5k)" in text and "data:image/png;base64," in text
    assert "://" not in text  # no link out (base64 has no ":", so an inlined image cannot match by chance)
    assert run.info.run_name.startswith("nsgan@mnist5k-")
    (used,) = run.inputs.dataset_inputs
    assert used.dataset.name == "mnist5k" and used.dataset.digest == \
        run.data.tags[defaults.TAG_DATA_VERSION].rpartition(":")[2][:36]
    assert json.loads(used.dataset.profile) == {"train": 4000, "test": 1000}
    assert any(a.path.startswith("images/") for a in client.list_artifacts(run.info.run_id, "images"))

    validation = client.get_run(summary.data["mnist5k"].validate.run_id)
    assert validation.data.metrics["validation_success"] == 1.0
    assert any(a.path == "validation/data_docs" for a in client.list_artifacts(validation.info.run_id, "validation"))
    clf = client.get_run(summary.data["mnist5k"].classifier.run_id)
    assert clf.data.metrics["test_accuracy"] > 0.5


def test_the_prefect_run_names_its_tasks_and_carries_the_summary_and_genzoos_logs(ran):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter, LogFilter
    from prefect.logging.handlers import APILogWorker

    root, summary = ran
    run_id = summary.flow_run_id
    APILogWorker.drain_all(timeout=30)  # log lines travel to the API in batches
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run_id]}))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id={"any_": [run_id]}))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id={"any_": [run_id]}))
    names = {t.name for t in tasks}
    assert {"validate@mnist5k", "train:nsgan@mnist5k", "register:nsgan@mnist5k"} <= names, names
    (artifact,) = [a for a in artifacts if a.type == "markdown"]
    assert "| fid_classifier ↓ |" in artifact.data and "(N=200)" in artifact.data
    assert f"{NAME} v1 -> @champion" in artifact.data
    train_run = summary.families["nsgan"].train.run_id
    assert f"/runs/{train_run}" in artifact.data  # the MLflow run, one click away
    messages = [log.message for log in logs]
    assert any(m.startswith("mnist5k-nsgan v1 -> champion") for m in messages), messages  # genzoo's own line


def test_second_run_is_all_cached_and_registers_nothing(ran, capsys):
    from flows.cli import main

    root, first = ran
    with in_project(root):
        assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert f"stages: {len(first.states)}, cached: {len(first.states)}" in out
    assert "fid_classifier" in out and f"already registered: {NAME} v1 @champion (no change)" in out
    assert "--host 127.0.0.1" in out
    assert len(registered_versions(root, NAME)) == 1
    # the cached invocation has a parent run of its own, naming the runs it reused
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    parents = client.search_runs([client.get_experiment_by_name("mnist5k").experiment_id],
                                 "tags.`genzoo.stage` = 'pipeline'", order_by=["attributes.start_time DESC"])
    assert len(parents) >= 2 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["genzoo.reused.train:nsgan/mnist5k"] == first.families["nsgan"].train.run_id


def test_registered_champion_generates_images_like_a_served_model(ran):
    root, _ = ran
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    a = model.predict(pd.DataFrame([{"n": 3, "seed": 7}]))
    assert a.shape == (3, 28, 28, 1) and a.dtype == np.uint8
    assert np.array_equal(a, model.predict(pd.DataFrame([{"n": 3, "seed": 7}])))
    assert not np.array_equal(a, model.predict(pd.DataFrame([{"n": 3, "seed": 8}])))
    with pytest.raises(mlflow.exceptions.MlflowException, match="n=5000 must be between 1 and 1024"):
        model.predict(pd.DataFrame([{"n": 5000, "seed": 0}]))


def _contents(root):
    """Every file of a project's outputs, artifacts and store, with its bytes' digest."""
    import hashlib

    files = [p for d in ("outputs", "mlartifacts") for p in (root / d).rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in [*files, root / "mlflow.db"]}


def test_a_copied_project_reuses_its_results_and_never_touches_the_original(ran, tmp_path):
    root, first = ran
    dst = tmp_path / "copy"
    shutil.copytree(root, dst, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    before = _contents(root)
    with in_project(dst):
        summary = pipeline(root=str(dst))
    assert set(summary.states.values()) == {"Cached"}, summary.states  # the same keys in a new folder
    reg = summary.families["nsgan"].register
    assert reg.version == first.families["nsgan"].register.version
    assert len(registered_versions(dst, NAME)) == 1
    assert str(root) not in str(summary.families) and str(dst) in str(summary.families)
    uri = f"sqlite:///{dst / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    version = client.get_model_version_by_alias(NAME, "champion")
    assert client.get_run(version.run_id).info.artifact_uri.startswith(dst.as_uri())
    dump = "\n".join(sqlite3.connect(dst / "mlflow.db").iterdump())
    assert str(root) not in dump and root.as_uri() not in dump  # no location in the copy's store names the original
    assert _contents(root) == before  # nothing of the original was read into, written or rewritten


def _copy(ran, tmp_path):
    root, _ = ran
    dst = tmp_path / "copy"
    shutil.copytree(root, dst, ignore=shutil.ignore_patterns(".genzoo"))
    return dst


# One case per way the flow stops before training; each gate check has its own corruption tested on the gate
# (tests/validation/test_gate.py, test_causes.py) and each damaged file on the reader (tests/data/test_store.py).
CORRUPTIONS = {
    "nan": (lambda d: np.save(d / "train_images.npy", _with(np.load(d / "train_images.npy").astype(float), np.nan)),
            "column=finite"),  # the gate
    "truncated": (lambda d: (d / "test_images.npy").write_bytes((d / "test_images.npy").read_bytes()[:5000]),
                  "test_images.npy: truncated"),  # the reader
    "meta-shape": (lambda d: _edit_meta(d, image_shape=[32, 32, 3]), "meta.json: image_shape .32, 32, 3. but"),
    # labels that do not match their images: each class's mean image against the pin's (validation/pinned.py)
    "labels-shifted": (lambda d: np.save(d / "train_labels.npy", (np.load(d / "train_labels.npy") + 1) % 10),
                       "likely: the train split's labels permuted or shifted"),
    # consistent files the gate accepts, but the GAN's networks (which halve the size twice) cannot take
    "28x27": (lambda d: _crop_width(d, 27), "train_images.npy holds 28x27x1 images, which nsgan's networks cannot"),
}


def _crop_width(d, width):
    for split in ("train", "test"):
        np.save(d / f"{split}_images.npy", np.ascontiguousarray(np.load(d / f"{split}_images.npy")[:, :, :width]))
    _edit_meta(d, image_shape=[28, width, 1])


def _edit_meta(d, **changes):
    import json

    (d / "meta.json").write_text(json.dumps({**json.loads((d / "meta.json").read_text()), **changes}))


def _with(arr, value):
    arr.flat[123] = value
    return arr


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_input_stops_the_pipeline_before_training(ran, tmp_path, kind):
    root = _copy(ran, tmp_path)
    damage, message = CORRUPTIONS[kind]
    damage(root / "data" / "mnist5k")
    shutil.rmtree(root / "outputs" / "mnist5k" / "nsgan")
    classifiers = sorted((root / "outputs" / "mnist5k" / "classifier").iterdir())
    with in_project(root), pytest.raises(GenzooError, match=message.replace("(", r"\(")):
        pipeline(root=str(root))
    assert len(registered_versions(root, NAME)) == 1  # only the version from before the damage
    assert not (root / "outputs" / "mnist5k" / "nsgan").exists()  # nothing was trained
    assert sorted((root / "outputs" / "mnist5k" / "classifier").iterdir()) == classifiers  # not even the classifier


def test_labels_no_pin_covers_stop_at_the_classifier_floor_before_training(ran, tmp_path):
    """With the label check relaxed (as for a user's own data that no pin covers), shuffled training labels leave
    a reference classifier at chance: its features are refused, nothing trains and nothing registers."""
    root = _copy(ran, tmp_path)
    d = root / "data" / "mnist5k"
    np.save(d / "train_labels.npy", np.random.default_rng(0).permutation(np.load(d / "train_labels.npy")))
    shutil.rmtree(root / "outputs" / "mnist5k" / "nsgan")
    with in_project(root), pytest.raises(GenzooError, match=r"mnist5k's reference classifier reached \d+\.\d% test "
                                                            r"accuracy \(chance 10\.0%; classifier\.min_skill=0\.25"):
        pipeline(root=str(root), overrides=["validation.relax.mnist5k=[labels]", "registry.allow_unpinned=true"])
    assert len(registered_versions(root, NAME)) == 1
    assert not (root / "outputs" / "mnist5k" / "nsgan").exists()
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    (failed,) = client.search_runs([client.get_experiment_by_name("mnist5k").experiment_id],
                                   "attributes.run_name = 'classifier@mnist5k' and attributes.status = 'FAILED'")
    assert failed.data.metrics["test_accuracy"] < 0.325


def test_diverging_training_fails_the_run_and_promotes_nothing(ran, tmp_path):
    root = _copy(ran, tmp_path)
    with in_project(root), pytest.raises(GenzooError, match="nsgan: TrainingDiverged: non-finite loss"):
        pipeline(root=str(root), overrides=["family.nsgan.lr=1e30", "train.steps=40"])
    versions = registered_versions(root, NAME)
    assert len(versions) == 1
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mnist5k").experiment_id],
                              "tags.`genzoo.failed_stage` = 'train'")
    assert len(runs) == 1 and runs[0].info.status == "FAILED"


def test_families_command_lists_name_kind_and_summary(capsys):
    from flows.cli import main

    assert main(["families"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    kinds = {name: kind for name, kind, _ in rows}
    assert [n for n, k in kinds.items() if k == "gan"] == ["mmgan", "nsgan", "mlgan", "lsgan", "wgan", "wgangp",
                                                           "dragan", "began"]
    assert {n for n, k in kinds.items() if k not in ("gan", "translation", "hybrid")} == {
        "vae", "cvae", "betavae", "hvae", "pixelcnn", "gatedpixelcnn", "pixelrnn", "multiscale", "nade"}
    assert {n for n, k in kinds.items() if k == "hybrid"} == {"ali", "veegan", "aae", "avb", "introvae", "alphagan"}
    assert [n for n, k in kinds.items() if k == "translation"] == ["cyclegan"]
    assert all(summary for *_, summary in rows)


def test_cli_reports_bad_input_in_one_line(project, capsys):
    from flows.cli import main

    assert main(["stage", "train", "--family", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error: unknown model family 'nope'") and "Traceback" not in err


def test_a_champion_scored_on_another_sample_count_is_rescored_not_compared(ran, tmp_path):
    """FID is biased by N: the same model on 100 samples must not be compared with its 200-sample FID."""
    root = _copy(ran, tmp_path)
    shutil.rmtree(root / "outputs" / "mnist5k" / "nsgan" / "train")  # a new training run (the same weights)
    with in_project(root):
        summary = pipeline(root=str(root), overrides=["eval.num_samples=100"])
    reg, ev = summary.families["nsgan"].register, summary.families["nsgan"].evaluate
    assert ev.metrics["num_samples"] == 100 and reg.protocol == ev.protocol
    # the champion (the same deterministic training, in the copied project) re-scored under N=100 ties with it
    assert reg.alias == "challenger" and "re-scored under this version's protocol" in reg.reason
    assert f"does not beat champion v1's {ev.metrics['fid_classifier']:.4g}" in reg.reason
    assert len(registered_versions(root, NAME)) == 2
