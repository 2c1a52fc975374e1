"""A registered model of 2-D points, loaded with plain MLflow, serves float32 (x, y) rows (not pixels), its
signature says so, and after a short training the served points sit on the ring's modes."""

from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.exceptions import MlflowException

from components.config.schema import Train
from components.data import sources
from components.data.mixtures import MIXTURES
from components.evaluation import modes
from components.models import stored
from components.models.registry import get_family
from components.tracking.registration import _log_model
from components.training.loop import LoopConfig, fit


@pytest.fixture(scope="module")
def served_ring(tmp_path_factory):
    """NS GAN trained 2,500 steps on ring8 at its 2-D settings (tests/models/test_games_learn_points.py: 30-61% of
    its samples on the modes over seeds 0-2), registered in a SQLite store and loaded back as a pyfunc."""
    tmp = tmp_path_factory.mktemp("served_ring")
    data = sources.fetch("ring8", {})
    fam = get_family("nsgan")
    torch.manual_seed(0)
    model = fam.build((2, 1, 1), 8, fam.hyperparameters(fam.points_overrides()))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = LoopConfig.from_cfg(Train(), 0, steps=2500, batch_size=256, checkpoint_every=2500, log_every=500,
                                  progress=False, device="cpu", precision="fp32")
        fit(model, torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels), cfg, tmp / "ckpt")
    finally:
        torch.set_num_threads(before)
    out = stored.save(model.eval(), "nsgan", "ring8", SimpleNamespace(classes=list(data.classes), members=None),
                      tmp / "model")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        mlflow.set_experiment("ring8")
        with mlflow.start_run():
            version = _log_model("ring8-nsgan", out)
        yield model, mlflow.pyfunc.load_model(f"models:/ring8-nsgan/{version}")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_a_served_points_model_returns_float_points_that_land_on_the_ring(served_ring):
    model, served = served_ring
    points = served.predict(pd.DataFrame([{"n": 1000, "seed": 1}]))
    assert points.dtype == np.float32 and points.shape == (1000, 2)
    expected = model.sample(1000, torch.Generator().manual_seed(1)).reshape(1000, 2).numpy()
    assert np.array_equal(points, expected)  # the model's own coordinates, not quantised to bytes
    counted = modes.count(torch.from_numpy(points).reshape(-1, 1, 1, 2), MIXTURES["ring8"])
    assert counted.high_quality >= 0.1, counted  # within 3 sigma of a mode, as the evaluation counts
    (out,) = served.metadata.get_output_schema().inputs
    assert out.type == np.dtype(np.float32) and out.shape == (-1, 2)


def test_a_points_model_has_no_pictures(served_ring):
    _, served = served_ring
    with pytest.raises(MlflowException, match="returns \\(x, y\\) rows, not pictures"):
        served.predict(pd.DataFrame([{"n": 2, "seed": 0}]), params={"format": "png"})
