"""`genzoo registry list|promote|rollback` on a real SQLite registry: the champion moves as asked, and every
move leaves its trail in the versions' tags; rollback also undoes the automatic rule's promotions."""

import mlflow
import pytest

from components import defaults
from components.errors import ConfigError
from components.tracking import promotion, registry_ops
from flows.cli import main

NAME = "toy-nsgan"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Three versions registered by the automatic rule: FID 30 (champion), 35 (challenger), 20 (champion)."""
    monkeypatch.setenv("GENZOO_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(NAME)
    exp = client.create_experiment("toy", artifact_location=(tmp_path / "art").as_uri())
    for fid in (30.0, 35.0, 20.0):
        run = client.create_run(exp)
        client.log_metric(run.info.run_id, "fid_classifier", fid)
        client.log_metric(run.info.run_id, "floor_fid_classifier", 0.5)  # beside it: a floor and a training loss
        client.log_metric(run.info.run_id, "d_loss", 0.7)
        v = client.create_model_version(NAME, source=str(tmp_path), run_id=run.info.run_id).version
        promotion.promote(client, NAME, v, "fid_classifier", fid, "protocol-a")
    return client


def champ(client):
    return client.get_model_version_by_alias(NAME, defaults.CHAMPION)


def version(client) -> str:
    return str(champ(client).version)  # the SQLite store answers ints


def test_list_shows_every_version_with_metrics_aliases_and_decisions(store):
    rows = registry_ops.list_versions(store, NAME)
    assert [r.version for r in rows] == ["3", "2", "1"]
    assert rows[0].aliases == ["champion"] and rows[1].aliases == ["challenger"] and rows[2].aliases == []
    assert [r.metrics["fid_classifier"] for r in rows] == [20.0, 35.0, 30.0]
    assert all(set(r.metrics) == {"fid_classifier"} for r in rows)  # a model's own headline scores, no floor
    assert "beats champion v1" in rows[0].reason
    with pytest.raises(ConfigError, match="no registered model 'nope'"):
        registry_ops.list_versions(store, "nope")


def test_rollback_undoes_the_rule_then_walks_further_back(store):
    assert version(store) == "3" and champ(store).tags[registry_ops.TAG_PREVIOUS] == "1"
    assert registry_ops.rollback(store, NAME) == ("3", "1")
    now = champ(store)
    assert str(now.version) == "1" and now.tags[registry_ops.TAG_ROLLED_BACK] == "3"
    assert store.get_model_version(NAME, "3").tags[defaults.TAG_DECISION] == "rolled-back"
    with pytest.raises(ConfigError, match="v1 replaced no earlier champion"):
        registry_ops.rollback(store, NAME)
    assert version(store) == "1"  # a refused rollback changes nothing


def test_promote_by_hand_leaves_a_trail_and_rollback_returns(store):
    reason = registry_ops.promote(store, NAME, "2", note="better samples by eye")
    v2 = champ(store)
    assert str(v2.version) == "2" and "by hand" in reason and "better samples by eye" in v2.tags[defaults.TAG_REASON]
    assert v2.tags[registry_ops.TAG_PREVIOUS] == "3" and v2.tags[registry_ops.TAG_SINCE]
    assert store.get_model_version(NAME, "3").tags[registry_ops.TAG_REPLACED_BY] == "2"
    with pytest.raises(ConfigError, match="has no version 9"):
        registry_ops.promote(store, NAME, "9")
    assert registry_ops.rollback(store, NAME) == ("2", "3")
    assert version(store) == "3"


def test_cli_commands(store, capsys):
    assert main(["registry", "promote", NAME, "1"]) == 0
    assert version(store) == "1"
    assert main(["registry", "list", NAME]) == 0
    out = capsys.readouterr().out
    assert f"{NAME}  v1  @champion" in out and "fid_classifier=30" in out
    assert main(["registry", "rollback", NAME]) == 0
    assert version(store) == "3"
    assert main(["registry", "promote", NAME, "7"]) == 2  # a clear error, not a traceback
    assert "has no version 7" in capsys.readouterr().err


def test_decision_tags_stay_true_when_the_champion_alias_moves(store):
    """v3 took champion from v1: v1 and its run no longer say champion; a rollback swaps them again."""
    def decision(v):
        mv = store.get_model_version(NAME, v)
        return mv.tags[defaults.TAG_DECISION], store.get_run(mv.run_id).data.tags.get(defaults.TAG_DECISION)

    assert decision("1") == (registry_ops.REPLACED, registry_ops.REPLACED)
    assert store.get_run(store.get_model_version(NAME, "1").run_id).data.tags[registry_ops.TAG_REPLACED_BY] == \
        f"{NAME} v3"
    assert decision("3") == ("champion", "champion")
    registry_ops.rollback(store, NAME)
    assert decision("1") == ("champion", "champion") and decision("3") == ("rolled-back", "rolled-back")
