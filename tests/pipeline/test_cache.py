import numpy as np

from components.config import load_config
from components.pipeline import runner
from components.pipeline.context import Context
from components.pipeline.graph import node

TRAIN = node("train", "mnist5k", "nsgan")


def test_stage_key_follows_its_inputs(project):
    base = Context(load_config(project)).key(TRAIN)
    assert base == Context(load_config(project)).key(TRAIN)
    assert Context(load_config(project, overrides=["train.steps=9"])).key(TRAIN) != base
    assert Context(load_config(project, overrides=["train.progress=false"])).key(TRAIN) == base  # reporting only
    # evaluation settings are not training inputs, but they are the evaluation's
    other_eval = Context(load_config(project, overrides=["eval.num_samples=7"]))
    evaluate = node("evaluate", "mnist5k", "nsgan")
    assert other_eval.key(TRAIN) == base
    assert other_eval.key(evaluate) != Context(load_config(project)).key(evaluate)
    # a change in the data changes every key downstream of it
    labels = project / "data/mnist5k/test_labels.npy"
    y = np.load(labels)
    y[0] = (y[0] + 1) % 10
    np.save(labels, y)
    assert Context(load_config(project)).key(TRAIN) != base


def test_a_stage_is_skipped_only_while_its_outputs_stand(project):
    ctx = Context(load_config(project))
    validate = node("validate", "mnist5k")
    first = runner.run(ctx, validate, {})
    assert runner.stored(ctx, validate) == first
    assert runner.run(ctx, validate, {}) == first  # stored: not run again
    (project / "outputs/mnist5k/validate/latest/result.json").unlink()
    assert runner.stored(ctx, validate) is None  # an output is gone: the stage must run again
    again = runner.run(ctx, validate, {})
    assert again.run_id != first.run_id
    assert runner.stored(Context(load_config(project), force=True), validate) is None


def test_a_stage_run_on_its_own_reads_its_inputs_or_names_the_missing_one(project):
    import pytest

    from components.errors import GenzooError
    from components.pipeline.walk import walk

    ctx = Context(load_config(project))
    with pytest.raises(GenzooError, match=r"train:nsgan@mnist5k needs validate@mnist5k, which has no current "
                                          r"result: run `genzoo stage validate`"):
        walk(ctx, [TRAIN])


def test_stored_results_name_the_project_relatively_and_read_back_in_a_moved_copy(tmp_path):
    import json

    from components.pipeline import cache

    here, there = tmp_path / "proj", tmp_path / "moved"
    result = {"files": [str(here / "outputs/x.png")], "uri": (here / "mlartifacts/1").as_uri(),
              "store": f"sqlite:///{here}/mlflow.db", "n": 3, "other": str(tmp_path / "proj2/y"),
              "nested": [{"path": str(here)}]}
    (here / "outputs").mkdir(parents=True)
    (here / "outputs/x.png").write_bytes(b"png")
    cache.write(here / "stage.json", "k", result, here)
    text = (here / "stage.json").read_text()
    assert str(here) + "/" not in text and json.loads(text)["result"]["other"] == str(tmp_path / "proj2/y")
    assert cache.read(here / "stage.json", "k", here) == result

    here.rename(there)
    moved = cache.read(there / "stage.json", "k", there)
    assert moved["files"] == [str(there / "outputs/x.png")] and moved["uri"] == (there / "mlartifacts/1").as_uri()
    assert moved["nested"] == [{"path": str(there)}] and moved["n"] == 3


def test_a_stored_result_of_an_older_shape_is_recomputed_not_misread(project, caplog):
    import json
    import logging

    ctx = Context(load_config(project))
    validate = node("validate", "mnist5k")
    first = runner.run(ctx, validate, {})
    marker = ctx.out_dir(validate) / runner.MARKER
    saved = json.loads(marker.read_text())
    del saved["result"]["result_type"]  # what the previous genzoo stored: a plain dict under the same key
    marker.write_text(json.dumps(saved))
    with caplog.at_level(logging.INFO, logger="components.pipeline.results"):
        assert runner.stored(ctx, validate) is None
    assert "recomputing" in caplog.text and str(marker) in caplog.text
    again = runner.run(ctx, validate, {})
    assert again.run_id != first.run_id and again.success
    assert runner.stored(ctx, validate) == again
