"""The champion rule: a new version takes alias `champion` only if its metric is clearly better than an untrained
model's (registry.beat_noise; the first version too) and beats the current champion's, both measured under the
same evaluation protocol (evaluation/protocol.py); otherwise it is the `challenger`.

Better means better in the metric's own direction (components/metric_specs.py). When the champion was measured
under another protocol (another N, feature space or seed), the caller's `rescore` measures the champion again
under the new version's protocol and those two numbers are compared; a champion that cannot be re-scored (or
scores NaN) is never replaced automatically, and the reason says so with the command that promotes by hand.
Decision and reason (which numbers were compared) are tags on the version, so the registry itself keeps the
trail."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from components import defaults
from components.evaluation.protocol import TAG as TAG_PROTOCOL
from components.evaluation.protocol import Noise
from components.metric_specs import spec


@dataclass
class Decision:
    alias: str
    reason: str
    previous_version: str | None
    previous_value: float | None


def noise_threshold(noise: float, margin: float, metric: str) -> float:
    """What clearly better than the untrained level `noise` means: `margin` of its magnitude better, in the
    metric's own direction (FID with margin 0.5: at most half the untrained FID)."""
    return noise - margin * abs(noise) if spec(metric).direction == "lower" else noise + margin * abs(noise)


def decide(new_value: float, new_protocol: str, champion_value: float | None, champion_protocol: str | None,
           metric: str, champion_version: str | None = None, note: str = "",
           unscorable: str | None = None, by_hand: str = "genzoo registry promote",
           noise: Noise | None = None, margin: float | None = None) -> Decision:
    """The rule, in `metric`'s own direction (components/metric_specs.py). `unscorable`: why the champion has no
    comparable number (its re-scoring failed or gave no finite value); `by_hand`: the command that promotes the
    new version anyway, named in the reason when the rule cannot decide. `noise`, `margin`: the untrained level
    under the new version's protocol and how clearly it must be beaten (registry.beat_noise), first version too."""
    s = spec(metric)
    if not math.isfinite(new_value):
        return Decision(defaults.CHALLENGER, f"{metric}={new_value} is not a finite number: never promoted",
                        champion_version, champion_value)
    if noise is not None and margin is not None:
        if noise.protocol != new_protocol:
            raise ValueError(f"the untrained level was measured under protocol {noise.protocol}, the version under "
                             f"{new_protocol}")
        threshold = noise_threshold(noise.value, margin, metric)
        than = f"{'less' if s.direction == 'lower' else 'more'} than {threshold:.4g}"
        if not s.better(new_value, threshold):  # strictly: an untrained level of 0 modes is not beaten by 0
            return Decision(
                defaults.CHALLENGER,
                f"{metric}={new_value:.4g} is not clearly better than an untrained {noise.family}'s {noise.value:.4g} "
                f"under the same protocol {new_protocol} (needs {than}: "
                f"registry.beat_noise={margin}); not promoted. Promote by hand if it should serve: `{by_hand}`",
                champion_version, champion_value)
        note += f"; clearly better than an untrained {noise.family}'s {noise.value:.4g} (needs {than})"
    if champion_version is None:
        return Decision(defaults.CHAMPION, f"first version: no champion yet ({metric}={new_value:.4g}{note})", None,
                        None)
    if unscorable is None and champion_value is not None and champion_protocol == new_protocol \
            and not math.isfinite(champion_value):
        unscorable = f"its {metric} is {champion_value}"
    if unscorable is not None:
        return Decision(
            defaults.CHALLENGER,
            f"champion v{champion_version} cannot be scored under this version's protocol {new_protocol} "
            f"({unscorable}), so it is never replaced automatically{note}; this version's {metric}={new_value:.4g}. "
            f"Promote by hand if it should serve: `{by_hand}`", champion_version, champion_value)
    if champion_value is None or champion_protocol != new_protocol:
        return Decision(
            defaults.CHALLENGER,
            f"not comparable: champion v{champion_version}'s {metric} was measured under eval protocol "
            f"{champion_protocol}, this version's under {new_protocol}{note}; the champion stays (promote by hand "
            f"with `{by_hand}`)", champion_version, champion_value)
    better = s.better(new_value, champion_value)  # a tie keeps the champion
    verb = "beats" if better else "does not beat"
    reason = (f"{metric}={new_value:.4g} {verb} champion v{champion_version}'s {champion_value:.4g} "
              f"({s.direction} is better){note}")
    return Decision(defaults.CHAMPION if better else defaults.CHALLENGER, reason, champion_version, champion_value)


def promote(client, name: str, version: str, metric: str, value: float, protocol: str,
            rescore: Callable[[Any], float] | None = None, noise: Noise | None = None,
            margin: float | None = None, experiment: str | None = None) -> Decision:
    """Apply the rule in the registry: set the alias and write the decision onto the new version's tags.
    `rescore(champion_version) -> value` measures the champion under `protocol` when its own differs; a champion
    that cannot be measured is tagged so (`genzoo registry list` shows it). `noise`, `margin`: decide's."""
    from mlflow.exceptions import MlflowException

    from components.tracking.registry_ops import record_change

    try:
        champ = client.get_model_version_by_alias(name, defaults.CHAMPION)
    except MlflowException:
        champ = None
    champ_value = champ_protocol = unscorable = None
    note = ""
    if champ is not None:
        tags = champ.tags or {}
        champ_protocol = tags.get(TAG_PROTOCOL, "(none recorded)")
        champ_value = float(tags[metric]) if metric in tags else None
        if champ_protocol != protocol and rescore is not None:
            try:
                rescored = float(rescore(champ))
            except Exception as exc:  # noqa: BLE001 - any failure means: no comparable number, keep the champion
                unscorable = f"re-scoring it failed: {type(exc).__name__}: {exc}"
            else:
                was = f"{champ_value:.4g}" if champ_value is not None else "no value"
                note = (f" (the champion re-scored under this version's protocol {protocol}; its registered "
                        f"{metric} was {was} under protocol {champ_protocol})")
                champ_value, champ_protocol = rescored, protocol
                if not math.isfinite(rescored):
                    unscorable = f"re-scoring it gave {metric}={rescored}"
        elif champ_value is not None and champ_protocol == protocol and not math.isfinite(champ_value):
            unscorable = f"its registered {metric} is {champ_value}"
        if unscorable is not None:
            client.set_model_version_tag(name, champ.version, defaults.TAG_UNSCORABLE, unscorable[:4000])
        elif defaults.TAG_UNSCORABLE in tags:  # scored again: the old note no longer holds
            client.delete_model_version_tag(name, champ.version, defaults.TAG_UNSCORABLE)
    d = decide(value, protocol, champ_value, champ_protocol, metric, str(champ.version) if champ is not None else None,
               note, unscorable, f"genzoo registry promote {name} {version}", noise, margin)
    if experiment is not None:  # a throwaway `dvc exp run`: what the rule says is noted, no alias moves
        d = Decision(defaults.CANDIDATE, f"DVC experiment {experiment}: a candidate, no alias moved (the rule "
                     f"would have made it @{d.alias}: {d.reason}); promote from `genzoo run`, a schedule or "
                     f"`genzoo registry promote {name} {version}`", d.previous_version, d.previous_value)
    if noise is not None:
        client.set_model_version_tag(name, version, defaults.TAG_NOISE, f"{noise.family}: {noise.value!r}")
    client.set_model_version_tag(name, version, metric, repr(float(value)))  # exact, for the next comparison
    client.set_model_version_tag(name, version, TAG_PROTOCOL, protocol)
    if d.alias == defaults.CHAMPION:  # the same trail as a promotion by hand, so rollback can undo either
        record_change(client, name, version, d.previous_version, d.reason)
    else:
        client.set_model_version_tag(name, version, defaults.TAG_REASON, d.reason)
        if d.alias != defaults.CANDIDATE:
            client.set_registered_model_alias(name, d.alias, version)
        client.set_model_version_tag(name, version, defaults.TAG_DECISION, d.alias)  # last: a decided version
    return d
