import mlflow
import pytest

from components import defaults
from components.tracking import promotion

NAME = "toy-nsgan"


def test_decide_rule():
    first = promotion.decide(10.0, "s", None, None, "fid", champion_version=None)
    assert first.alias == "champion" and "first version" in first.reason
    assert promotion.decide(9.0, "s", 10.0, "s", "fid", champion_version="1").alias == "champion"
    worse = promotion.decide(11.0, "s", 10.0, "s", "fid", champion_version="1")
    assert worse.alias == "challenger" and "does not beat champion v1" in worse.reason
    assert promotion.decide(10.0, "s", 10.0, "s", "fid", champion_version="1").alias == "challenger"  # tie
    assert promotion.decide(11.0, "s", 10.0, "s", "is", champion_version="1").alias == "champion"  # higher is better
    assert promotion.decide(9.0, "s", 10.0, "s", "recall_classifier", champion_version="1").alias == "challenger"
    for bad in (float("nan"), float("inf")):  # a broken measurement never becomes the champion, even the first
        assert "not a finite number" in promotion.decide(bad, "s", None, None, "fid").reason
        assert promotion.decide(bad, "s", None, None, "fid").alias == "challenger"
    other = promotion.decide(50.0, "t", 10.0, "s", "fid", champion_version="1")  # another protocol: never compared
    assert other.alias == "challenger" and "not comparable" in other.reason


def test_a_version_must_clearly_beat_an_untrained_model_even_the_first():
    from components.evaluation.protocol import Noise

    noise = Noise("nsgan", 400.0, "s")
    at_noise = promotion.decide(390.0, "s", None, None, "fid", noise=noise, margin=0.5)
    assert at_noise.alias == "challenger"
    assert "fid=390 is not clearly better than an untrained nsgan's 400" in at_noise.reason
    assert "needs less than 200: " in at_noise.reason and "registry.beat_noise=0.5" in at_noise.reason
    assert promotion.decide(190.0, "s", None, None, "fid", noise=noise, margin=0.5).alias == "champion"
    # beating noise is necessary, not sufficient: the champion is still to be beaten
    assert promotion.decide(190.0, "s", 100.0, "s", "fid", "1", noise=noise, margin=0.5).alias == "challenger"
    # higher is better: precision of an untrained model 0.02, at least 50% more needed
    low = Noise("nsgan", 0.02, "s")
    assert promotion.decide(0.025, "s", None, None, "precision_classifier", noise=low, margin=0.5).alias == \
        "challenger"
    assert promotion.decide(0.5, "s", None, None, "precision_classifier", noise=low, margin=0.5).alias == "champion"
    none = promotion.decide(0.0, "s", None, None, "modes_covered", noise=Noise("nsgan", 0.0, "s"), margin=0.5)
    assert none.alias == "challenger" and "(needs more than 0: " in none.reason  # 0 does not beat 0
    with pytest.raises(ValueError, match="protocol"):  # a level measured otherwise is no level for this version
        promotion.decide(190.0, "s", None, None, "fid", noise=Noise("nsgan", 400.0, "t"), margin=0.5)


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = mlflow.MlflowClient(uri, registry_uri=uri)
    c.create_registered_model(NAME)
    return c


def _new_version(client, tmp_path):
    src = tmp_path / "model"
    src.mkdir(exist_ok=True)
    return client.create_model_version(NAME, source=str(src)).version


def test_registry_keeps_the_better_model_as_champion(client, tmp_path):
    steps = [(30.0, "champion"), (35.0, "challenger"), (20.0, "champion"), (20.0, "challenger")]
    for fid, expected in steps:
        version = _new_version(client, tmp_path)
        d = promotion.promote(client, NAME, version, "fid_classifier", fid, "protocol-a")
        assert d.alias == expected
        mv = client.get_model_version(NAME, version)
        assert mv.tags[defaults.TAG_DECISION] == expected and mv.tags[defaults.TAG_REASON] == d.reason
        assert float(mv.tags["fid_classifier"]) == fid
    champion = client.get_model_version_by_alias(NAME, "champion")
    challenger = client.get_model_version_by_alias(NAME, "challenger")
    assert (str(champion.version), str(challenger.version)) == ("3", "4")


def test_a_champion_measured_under_another_protocol_is_rescored_before_the_decision(client, tmp_path):
    """The 500-vs-5,000 case: FID falls with N, so 1140 on 500 samples says nothing against 1.034e4 on 5,000."""
    first = _new_version(client, tmp_path)
    promotion.promote(client, NAME, first, "fid_classifier", 1.034e4, "n500")
    asked = []

    def rescore(champion):  # the champion measured again under the challenger's protocol
        asked.append(str(champion.version))
        return 900.0

    d = promotion.promote(client, NAME, _new_version(client, tmp_path), "fid_classifier", 1140.0, "n5000",
                          rescore=rescore)
    assert asked == [str(first)] and d.alias == "challenger"
    assert "does not beat champion v1's 900" in d.reason and "re-scored under this version's protocol n5000" in d.reason
    assert "was 1.034e+04 under protocol n500" in d.reason

    def broken(champion):
        raise FileNotFoundError("weights gone")

    third = _new_version(client, tmp_path)
    d = promotion.promote(client, NAME, third, "fid_classifier", 1.0, "n5000", rescore=broken)
    assert d.alias == "challenger" and "cannot be scored" in d.reason and "weights gone" in d.reason
    assert f"`genzoo registry promote {NAME} {third}`" in d.reason  # the command that resolves it
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == str(first)
    assert "weights gone" in client.get_model_version(NAME, first).tags[defaults.TAG_UNSCORABLE]


def test_a_higher_is_better_metric_keeps_the_higher_champion(client, tmp_path):
    """The audit's case: with registry.metric=is_classifier, IS 2.10 must not replace IS 5.25."""
    v1, v2, v3 = (_new_version(client, tmp_path) for _ in range(3))
    assert promotion.promote(client, NAME, v1, "is_classifier", 5.254, "p").alias == "champion"
    worse = promotion.promote(client, NAME, v2, "is_classifier", 2.10, "p")
    assert worse.alias == "challenger" and "does not beat champion v1's 5.254 (higher is better)" in worse.reason
    assert promotion.promote(client, NAME, v3, "is_classifier", 6.0, "p").alias == "champion"


def test_a_champion_that_rescores_to_nan_is_reported_with_the_command_and_listed(client, tmp_path):
    from components.tracking import registry_ops

    first = _new_version(client, tmp_path)
    promotion.promote(client, NAME, first, "fid_classifier", 30.0, "old")
    second = _new_version(client, tmp_path)
    d = promotion.promote(client, NAME, second, "fid_classifier", 1.0, "new", rescore=lambda champion: float("nan"))
    assert d.alias == "challenger" and f"champion v{first} cannot be scored" in d.reason
    assert "fid_classifier=nan" in d.reason and f"genzoo registry promote {NAME} {second}" in d.reason
    listed = registry_ops.format_rows(registry_ops.list_versions(client, NAME))
    assert "could not be re-scored" in listed and f"genzoo registry promote {NAME}" in listed
    third = _new_version(client, tmp_path)  # once the champion scores again, the note goes
    promotion.promote(client, NAME, third, "fid_classifier", 40.0, "newer", rescore=lambda champion: 35.0)
    assert defaults.TAG_UNSCORABLE not in client.get_model_version(NAME, first).tags
