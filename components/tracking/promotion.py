"""The champion rule: a new version takes alias `champion` only if its metric beats the current champion's
(measured in the same feature space); otherwise it is the `challenger`. Decision and reason are stored as
tags on the version, so the registry itself keeps the trail."""

from __future__ import annotations

from dataclasses import dataclass

from components import defaults


@dataclass
class Decision:
    alias: str
    reason: str
    previous_version: str | None
    previous_value: float | None


def decide(new_value: float, new_space: str, champion_value: float | None, champion_space: str | None,
           metric: str, lower_is_better: bool = True, champion_version: str | None = None) -> Decision:
    if champion_version is None:
        return Decision(defaults.CHAMPION, f"first version: no champion yet ({metric}={new_value:.4g})", None, None)
    if champion_value is None or champion_space != new_space:
        return Decision(
            defaults.CHAMPION,
            f"champion v{champion_version} has no {metric} in feature space {new_space} (its space: "
            f"{champion_space}); the new version replaces it as the comparable baseline",
            champion_version, champion_value,
        )
    better = new_value < champion_value if lower_is_better else new_value > champion_value  # a tie keeps the champion
    verb = "beats" if better else "does not beat"
    reason = f"{metric}={new_value:.4g} {verb} champion v{champion_version}'s {champion_value:.4g}"
    return Decision(defaults.CHAMPION if better else defaults.CHALLENGER, reason, champion_version, champion_value)


def promote(client, name: str, version: str, metric: str, value: float, space: str,
            lower_is_better: bool = True) -> Decision:
    """Apply the rule in the registry: set the alias and write the decision onto the new version's tags."""
    from mlflow.exceptions import MlflowException

    try:
        champ = client.get_model_version_by_alias(name, defaults.CHAMPION)
    except MlflowException:
        champ = None
    champ_value = champ_space = None
    if champ is not None:
        tags = champ.tags or {}
        champ_space = tags.get(defaults.TAG_FEATURE_SPACE)
        champ_value = float(tags[metric]) if metric in tags else None
    d = decide(value, space, champ_value, champ_space, metric, lower_is_better,
               str(champ.version) if champ is not None else None)
    from components.tracking.registry_ops import record_change

    client.set_model_version_tag(name, version, metric, repr(float(value)))  # exact, for the next comparison
    client.set_model_version_tag(name, version, defaults.TAG_FEATURE_SPACE, space)
    if d.alias == defaults.CHAMPION:  # the same trail as a promotion by hand, so rollback can undo either
        record_change(client, name, version, d.previous_version, d.reason)
    else:
        client.set_model_version_tag(name, version, defaults.TAG_DECISION, d.alias)
        client.set_model_version_tag(name, version, defaults.TAG_REASON, d.reason)
        client.set_registered_model_alias(name, d.alias, version)
    return d
