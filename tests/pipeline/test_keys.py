"""A stage's code key is found from its imports, so it covers what the stage runs and nothing of other families."""

from components.pipeline import keys
from components.pipeline.graph import STAGES


def files(stage: str, family: str | None = None) -> set[str]:
    return {p.relative_to(keys.ROOT).as_posix() for p in keys.closure(*STAGES[stage].modules(family))}


def test_a_stage_key_covers_every_module_its_body_reaches():
    evaluate = files("evaluate", "nsgan")
    # what evaluation really runs, several imports deep, including what loads the model and the metrics
    assert {"components/pipeline/stages/evaluate.py", "components/models/stored.py",
            "components/evaluation/samples.py", "components/evaluation/metrics.py",
            "components/evaluation/translation.py", "components/models/gan/games.py"} <= evaluate
    assert "components/study/trial.py" not in evaluate


def test_a_family_stage_covers_its_own_family_only():
    nsgan, vae = files("train", "nsgan"), files("train", "vae")
    assert "components/models/gan/family.py" in nsgan and "components/models/vae/family.py" not in nsgan
    assert "components/models/vae/family.py" in vae and "components/models/gan/family.py" not in vae
    assert "components/models/gan/family.py" in files("train", "began")  # began builds on the shared GAN
    assert not any(f.startswith("components/models/gan") for f in files("classifier"))


def test_the_code_hash_changes_with_the_source(tmp_path, monkeypatch):
    pkg = tmp_path / "components"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from components.sub import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text("X = 1\n")
    monkeypatch.setattr(keys, "ROOT", tmp_path)
    assert (pkg / "sub" / "b.py") in keys.closure.__wrapped__("components.sub.a")  # a function-local import
    before = keys.code_hash.__wrapped__("components.sub.a")
    (pkg / "sub" / "b.py").write_text("X = 2\n")
    assert keys.code_hash.__wrapped__("components.sub.a") != before
