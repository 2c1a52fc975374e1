import pytest

from components.config import load_config
from components.errors import ConfigError


def test_profile_and_overrides_layer_over_defaults(tmp_path):
    (tmp_path / "params.yaml").write_text(
        "train: {steps: 100}\nprofiles:\n  quick: {train: {steps: 50}}\n  full: {train: {steps: 5000}}\n")
    assert load_config(tmp_path)["train"]["steps"] == 50
    assert load_config(tmp_path, "full")["train"]["steps"] == 5000
    cfg = load_config(tmp_path, "full", ["train.steps=7", "families=a,b", "eval.inception=true"])
    assert cfg["train"]["steps"] == 7 and cfg["families"] == ["a", "b"] and cfg["eval"]["inception"] is True
    assert cfg["train"]["batch_size"] == 64  # untouched keys keep components/defaults.py's value
    assert "profiles" not in cfg and cfg["profile"] == "full"


def test_bad_config_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text("profiles: {quick: {}}\n")
    with pytest.raises(ConfigError, match="profile 'fast' is not in params.yaml"):
        load_config(tmp_path, "fast")
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        load_config(tmp_path, overrides=["train.steps"])
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="params.yaml: not valid YAML"):
        load_config(tmp_path)
