"""A family is declared once, next to its model: a new module that registers one is all it takes."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.errors import ConfigError
from components.models.registry import families, get_family
from tests.conftest import TINY_PARAMS
from tests.conftest import model_of

REPO = Path(__file__).resolve().parents[2]
HINGE_GAME = '''"""A hinge-loss game: one Game and one registration line, nothing else."""
import torch.nn.functional as F

from components.models.gan.family import GAN, GanHp
from components.models.gan.games import Game
from components.models.registry import Family, register

HINGE = Game(lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(), lambda fake: -fake.mean())
register(Family("hingegan", GAN, GanHp(), "hinge-loss GAN (Lim & Ye 2017)", {"game": HINGE}))
'''


def test_every_family_has_typed_defaults_and_a_kind_declared_by_its_model():
    for name, fam in families().items():
        hp = fam.hyperparameters()
        assert type(hp) is type(fam.hp) and fam.kind == fam.model.kind != "?"
        tiny = {"width": 0.125} if hasattr(hp, "width") else {}
        model = model_of(name, (1, 28, 28) if fam.kind != "translation" else (2, 28, 28), 10, tiny)
        assert model.hp == dataclasses.replace(hp, **tiny)
    with pytest.raises(ConfigError, match="unknown key family.vae.clip; known: z_dim"):
        get_family("vae").hyperparameters({"clip": 1})


def test_a_family_module_alone_makes_it_listed_and_trainable(tmp_path, mnist5k_data):
    src = tmp_path / "src"
    for pkg in ("components", "flows"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "components/models/gan/hinge.py").write_text(HINGE_GAME)
    project = tmp_path / "project"
    shutil.copytree(mnist5k_data / "mnist5k", project / "data/mnist5k")
    params = {**TINY_PARAMS, "family": {"hingegan": {"z_dim": 8, "width": 0.125}}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PYTHONPATH=str(src), GENZOO_ROOT=str(project))

    def genzoo(*args):
        proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    assert "hingegan\tgan\thinge-loss GAN (Lim & Ye 2017)" in genzoo("families").splitlines()
    genzoo("stage", "validate")
    trained = json.loads(genzoo("stage", "train", "--family", "hingegan"))["train:hingegan@mnist5k"]
    spec = json.loads((Path(trained["model_dir"]) / "model.json").read_text())
    assert spec["family"] == "hingegan" and spec["hp"]["z_dim"] == 8 and trained["steps"] == 8
