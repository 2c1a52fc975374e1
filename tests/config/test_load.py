import pytest

from components.config import load_config
from components.errors import ConfigError


def test_params_yaml_beats_its_profile_and_set_beats_both(tmp_path):
    """DEFAULTS <- profile <- params.yaml <- --set: what `dvc exp run -S train.steps=40` relies on."""
    (tmp_path / "params.yaml").write_text(
        "train: {batch_size: 32}\nprofiles:\n  quick: {train: {steps: 50, batch_size: 16}}\n"
        "  full: {train: {steps: 5000}}\n")
    assert load_config(tmp_path).train.steps == 50
    assert load_config(tmp_path).train.batch_size == 32  # params.yaml's own key wins over the profile's
    assert load_config(tmp_path, "full").train.steps == 5000
    cfg = load_config(tmp_path, "full", ["train.steps=7", "families=nsgan,vae", "eval.inception=true"])
    assert cfg.train.steps == 7 and cfg.families == ["nsgan", "vae"] and cfg.eval.inception is True
    assert cfg.train.log_every == 50  # untouched keys keep the schema's default
    assert cfg.profile == "full" and not hasattr(cfg, "profiles")
    assert load_config(tmp_path, overrides=["profile=full"]).train.steps == 5000


def test_family_overrides_are_checked_against_the_family_and_filled_from_its_defaults(tmp_path):
    cfg = load_config(tmp_path, overrides=["family.wgan.lr=0.001"])
    hp = cfg.hp("wgan")
    assert hp.lr == 0.001 and hp.clip == 0.01 and hp.disc_iters == 5  # wgan's own defaults
    assert not hasattr(cfg.hp("nsgan"), "clip")  # only the clipped game has a clip


@pytest.mark.parametrize("override, message", [
    ("train.stepz=60", "--set: unknown key train.stepz; did you mean train.steps?"),
    ("nosuch.key=1", "--set: unknown key nosuch; known here: classifier, data, dataset"),
    ("train.steps=abc", "--set: train.steps='abc': input should be a valid integer"),
    ("train.precision=fp8", "--set: train.precision='fp8': expected one of 'auto', 'fp32', 'bf16' or 'fp16'"),
    ("train.device=gpu", "--set: train.device: expected auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
    ("study.task_runner=spark", "study.task_runner='spark': expected one of 'threads', 'processes', 'dask' or 'ray'"),
    ("families=nsgan,nosuch", "unknown model family 'nosuch' (in families); registered: "),
    ("family.nsgan.zdim=3", "unknown key family.nsgan.zdim; did you mean family.nsgan.z_dim?"),
    ("family.nsgan.arch=resnet", "family.nsgan.arch='resnet': input should be 'infogan', 'dcgan' or 'mlp'"),
    ("dataset=nosuch", "dataset: unknown dataset 'nosuch': known cifar10, digits2mnist, fashion-mnist"),
    ("study.train.stepz=1", "study.train"),
    ("study.space.momentum=[0,1]", "study.space.momentum: unknown dimension; searchable: lr, beta1"),
    ("registry.metric=fid_clasifier", "registry.metric: 'fid_clasifier' is not a metric genzoo logs"),
    ("eval.sample_limit={autoregressive: 200}", "--set: eval.sample_limit is retired: every family is scored on "
                                                "eval.num_samples"),
    ("registry.metric=num_samples", "registry.metric='num_samples' is not a model's own score with a direction"),
    ("registry.metric=floor_fid_classifier", "is not a model's own score with a direction"),
])
def test_a_bad_key_type_or_choice_is_one_error_naming_it(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, overrides=[override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_registry_metric_brings_its_direction_and_a_contradicting_one_is_refused(tmp_path):
    assert load_config(tmp_path, overrides=["registry.metric=is_classifier"]).registry.lower_is_better is None
    assert load_config(tmp_path, overrides=["registry.metric=is_classifier",
                                            "registry.lower_is_better=false"]).registry.metric == "is_classifier"
    with pytest.raises(ConfigError, match=r"registry.lower_is_better=true contradicts "
                                          r"registry.metric='precision_classifier', which is higher-is-better"):
        load_config(tmp_path, overrides=["registry.metric=precision_classifier", "registry.lower_is_better=true"])


@pytest.mark.parametrize("params_yaml, message", [
    ("family:\n  nsgan: {lr: fast}\n", "params.yaml: family.nsgan.lr='fast': input should be a valid number"),
    ("family:\n  nsgan: {z_dim: \"64\"}\n", "params.yaml: family.nsgan.z_dim='64': input should be a valid integer"),
    ("family:\n  nsgan: {disc_batch_norm: 1}\n", "params.yaml: family.nsgan.disc_batch_norm=1: input should be a "
                                                  "valid boolean"),
    ("train: {steps: \"40\"}\n", "params.yaml: train.steps='40': input should be a valid integer"),
    ("profiles:\n  quick: {family: {vae: {beta: yes please}}}\n", "profiles.quick in params.yaml: family.vae.beta="),
])
def test_values_are_strict_and_an_error_names_the_layer_that_set_them(tmp_path, params_yaml, message):
    (tmp_path / "params.yaml").write_text(params_yaml)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_yaml_reads_exponent_floats_as_numbers_as_dvc_does(tmp_path):
    (tmp_path / "params.yaml").write_text("family:\n  nsgan: {lr: 1e-3, width: 1}\n")
    cfg = load_config(tmp_path, overrides=["family.vae.lr=5e-4"])
    assert cfg.hp("nsgan").lr == 0.001 and cfg.hp("nsgan").width == 1.0 and cfg.hp("vae").lr == 0.0005


def test_an_error_says_which_file_set_the_key(tmp_path):
    (tmp_path / "params.yaml").write_text("profiles:\n  quick: {eval: {num_samplez: 5}}\n")
    with pytest.raises(ConfigError, match=r"^profiles.quick in params.yaml: unknown key eval.num_samplez; "
                                          r"did you mean eval.num_samples\?"):
        load_config(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: lots\n")
    with pytest.raises(ConfigError, match="^params.yaml: seed='lots'"):
        load_config(tmp_path)


def test_bad_config_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text("profiles: {quick: {}}\n")
    with pytest.raises(ConfigError, match="profile 'fast': not in params.yaml's profiles"):
        load_config(tmp_path, "fast")
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        load_config(tmp_path, overrides=["train.steps"])
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="params.yaml: not valid YAML"):
        load_config(tmp_path)


def test_a_null_in_params_yaml_takes_the_profiles_value_and_a_number_beats_it(tmp_path):
    """params.yaml lists knobs as null so `dvc exp run -S train.steps=40` finds the key to override."""
    import yaml

    from components.config import load_config

    params = {"profile": "quick", "train": {"steps": None, "precision": None},
              "profiles": {"quick": {"train": {"steps": 600, "precision": "fp32"}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = load_config(tmp_path)
    assert cfg.train.steps == 600 and cfg.train.precision == "fp32"
    params["train"]["steps"] = 40  # what `dvc exp run -S train.steps=40` writes
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert load_config(tmp_path).train.steps == 40


@pytest.mark.parametrize("override, message", [
    ("family.nsgan.lr=.nan", "--set: family.nsgan.lr=nan: expected a finite learning rate > 0"),
    ("family.nsgan.lr=.inf", "--set: family.nsgan.lr=inf: expected a finite learning rate > 0"),
    ("family.nsgan.lr=-0.001", "--set: family.nsgan.lr=-0.001: expected a finite learning rate > 0"),
    ("family.nsgan.z_dim=0", "--set: family.nsgan.z_dim=0: expected an integer >= 1"),
    ("family.nsgan.beta1=1.5", "--set: family.nsgan.beta1=1.5: expected an Adam beta in [0, 1)"),
    ("family.vae.beta=-1", "--set: family.vae.beta=-1: expected a finite number >= 0"),
    ("family.gatedpixelcnn.kernel=4", "--set: family.gatedpixelcnn.kernel=4: expected an odd integer >= 1"),
    ("family.pixelcnn.levels=1", "--set: family.pixelcnn.levels=1: expected 2 (binarised pixels) to 256"),
    ("family.cyclegan.cycle_lambda=.nan", "--set: family.cyclegan.cycle_lambda=nan: expected a finite number"),
])
def test_a_hyperparameter_out_of_its_range_is_refused_before_anything_starts(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, overrides=[override])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_profile_that_sets_a_hyperparameter_out_of_range_is_named(tmp_path):
    (tmp_path / "params.yaml").write_text("profiles:\n  quick: {family: {nsgan: {lr: 0}}}\n")
    with pytest.raises(ConfigError, match=r"^profiles.quick in params.yaml: family.nsgan.lr=0: expected a finite"):
        load_config(tmp_path)


def test_a_key_given_twice_is_refused_as_dvc_refuses_it(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  steps: null\n  batch_size: 32\n  batch_size: null\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert "the key 'batch_size' is given twice (lines 3 and 4)" in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "params.yaml").write_text("eval: &e {batch_size: 50}\ntrain:\n  <<: *e\n  batch_size: 8\n")
    assert load_config(tmp_path).train.batch_size == 8  # a merged key the mapping overrides is no duplicate


def test_a_batch_larger_than_the_training_split_is_refused_up_front(project):
    with pytest.raises(ConfigError) as err:
        load_config(project, overrides=["train.batch_size=10000000"])
    assert str(err.value) == ("--set: train.batch_size=10000000 is more than the 4000 rows of mnist5k's training "
                              "split; allowed: 1 to 4000")
    assert load_config(project, overrides=["train.batch_size=4000"]).train.batch_size == 4000
