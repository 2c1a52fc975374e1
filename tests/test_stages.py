import numpy as np
import pytest
import torch

from components import stages
from components.config import load_config
from components.data import store
from components.data.sources import Splits


def test_stage_key_follows_its_inputs(project):
    ctx = stages.Context(load_config(project))
    base = ctx.key("train", "mnist5k", "nsgan")
    assert base == stages.Context(load_config(project)).key("train", "mnist5k", "nsgan")
    assert stages.Context(load_config(project, overrides=["train.steps=9"])).key("train", "mnist5k", "nsgan") != base
    # evaluation settings are not training inputs, but they are the evaluation's
    other_eval = stages.Context(load_config(project, overrides=["eval.num_samples=7"]))
    assert other_eval.key("train", "mnist5k", "nsgan") == base
    assert other_eval.key("evaluate", "mnist5k", "nsgan") != ctx.key("evaluate", "mnist5k", "nsgan")
    # a change in the data changes every key downstream of it
    labels = project / "data/mnist5k/test_labels.npy"
    y = np.load(labels)
    y[0] = (y[0] + 1) % 10
    np.save(labels, y)
    assert stages.Context(load_config(project)).key("train", "mnist5k", "nsgan") != base


def test_a_stage_is_skipped_only_while_its_outputs_stand(project):
    ctx = stages.Context(load_config(project))
    first = stages.run_stage(ctx, "validate", "mnist5k")
    assert ctx.done("validate", "mnist5k") == first
    (project / "outputs/mnist5k/validate/result.json").unlink()
    assert ctx.done("validate", "mnist5k") is None  # an output is gone: the stage must run again
    again = stages.run_stage(ctx, "validate", "mnist5k")
    assert again["run_id"] != first["run_id"]
    assert stages.Context(load_config(project), force=True).done("validate", "mnist5k") is None


def test_inception_metrics_and_their_cached_real_side(tmp_path):
    """fid_inception through the shipped TorchScript InceptionV3, on a tiny dataset; the real side is cached."""
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (24, 28, 28, 1), dtype=np.uint8)
    store.write(Splits(imgs[:16], np.arange(16) % 2, imgs[16:], np.arange(8) % 2, ("a", "b"), "test"), "tiny",
                tmp_path / "data")
    ctx = stages.Context(load_config(tmp_path, overrides=["dataset=tiny"]), tmp_path)
    ecfg = {"prc_k": 1, "prdc_k": 1, "max_prdc_samples": 100, "inception_weights": None, "inception_batch_size": 8}
    fake = torch.from_numpy(imgs[:8])
    m = stages._inception_metrics(ctx, "tiny", fake, ecfg, torch.device("cpu"))
    assert {"fid_inception", "precision_inception", "floor_fid_inception"} <= set(m)
    assert all(np.isfinite(v) for v in m.values())
    cached = list((tmp_path / ".genzoo" / "inception").iterdir())
    assert len(cached) == 2  # the test split's features and the floor
    assert stages._inception_metrics(ctx, "tiny", fake, ecfg, torch.device("cpu")) == pytest.approx(m)
