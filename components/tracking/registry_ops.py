"""What users do to the registry by hand: list versions with their metrics and aliases, promote a version,
roll `champion` back. Each leaves a trail in the versions' tags (who, when, from which version), beside the
automatic rule's own decision tags (promotion.py)."""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass

from components import defaults
from components.errors import ConfigError
from components.metric_specs import display_rank, headline

TAG_PREVIOUS = "genzoo.previous_champion"  # on a champion: the version it replaced (what rollback returns to)
TAG_SINCE = "genzoo.champion_since"
TAG_REPLACED_BY = "genzoo.replaced_by"
REPLACED = "replaced"  # the decision of a version after another took champion from it
TAG_ROLLED_BACK = "genzoo.rolled_back_from"


@dataclass
class VersionRow:
    name: str
    version: str
    aliases: list[str]
    created: str
    metrics: dict[str, float]
    decision: str
    reason: str
    unscorable: str = ""  # a champion the rule could not re-score: why (it is never replaced automatically)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _version(client, name: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        have = sorted((v.version for v in client.search_model_versions(f"name='{name}'")), key=int)
        raise ConfigError(f"registered model {name!r} has no version {version} (versions: {have or 'none'})") \
            from None


def champion(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, defaults.CHAMPION)
    except MlflowException:
        return None


def record_change(client, name: str, new: str, old: str | None, reason: str) -> None:
    """Point champion at `new` and write the trail: the automatic rule and the manual commands both use it."""
    client.set_registered_model_alias(name, defaults.CHAMPION, new)
    client.set_model_version_tag(name, new, TAG_SINCE, _now())
    client.set_model_version_tag(name, new, defaults.TAG_REASON, reason)
    if old is not None and old != new:
        client.set_model_version_tag(name, new, TAG_PREVIOUS, old)
        client.set_model_version_tag(name, old, TAG_REPLACED_BY, new)
        # the old version and its run no longer say "champion": the tags stay true when the alias moves
        client.set_model_version_tag(name, old, defaults.TAG_DECISION, REPLACED)
        _tag_run(client, name, old, {defaults.TAG_DECISION: REPLACED, TAG_REPLACED_BY: f"{name} v{new}"})
    _tag_run(client, name, new, {defaults.TAG_DECISION: defaults.CHAMPION})
    client.set_model_version_tag(name, new, defaults.TAG_DECISION, defaults.CHAMPION)  # last: the trail is complete


def promote(client, name: str, version: str, note: str = "") -> str:
    """Make `version` the champion whatever the rule says; returns the reason written on it."""
    _version(client, name, version)
    current = champion(client, name)
    old = str(current.version) if current is not None else None
    if old == str(version):
        return f"v{version} already is the champion"
    reason = f"promoted by hand by {_who()} at {_now()} (was v{old})" + (f": {note}" if note else "")
    record_change(client, name, str(version), old, reason)
    return reason


def rollback(client, name: str) -> tuple[str, str]:
    """Move champion back to the version the current champion replaced; returns (from, to)."""
    current = champion(client, name)
    if current is None:
        raise ConfigError(f"registered model {name!r} has no champion to roll back")
    previous, now = (current.tags or {}).get(TAG_PREVIOUS), str(current.version)
    if not previous:
        raise ConfigError(f"{name} v{now} replaced no earlier champion: nothing to roll back to")
    _version(client, name, previous)
    reason = f"rolled back by {_who()} at {_now()} from v{now}"
    # keep the earlier trail: after the rollback, `previous` keeps its own previous_champion tag
    client.set_registered_model_alias(name, defaults.CHAMPION, previous)
    client.set_model_version_tag(name, previous, TAG_SINCE, _now())
    client.set_model_version_tag(name, previous, TAG_ROLLED_BACK, now)
    client.set_model_version_tag(name, previous, defaults.TAG_DECISION, defaults.CHAMPION)
    client.set_model_version_tag(name, previous, defaults.TAG_REASON, reason)
    client.set_model_version_tag(name, now, defaults.TAG_DECISION, "rolled-back")
    client.set_model_version_tag(name, now, defaults.TAG_REASON, reason)
    _tag_run(client, name, previous, {defaults.TAG_DECISION: defaults.CHAMPION})
    _tag_run(client, name, now, {defaults.TAG_DECISION: "rolled-back"})
    return now, previous


def _tag_run(client, name: str, version: str, tags: dict[str, str]) -> None:
    """The training run behind a version says what the registry now says of it (what the runs table shows)."""
    run_id = client.get_model_version(name, version).run_id
    for k, v in tags.items() if run_id else ():
        client.set_tag(run_id, k, v)


def list_versions(client, name: str | None = None) -> list[VersionRow]:
    """Every version (of one model, or of all), newest first, with its run's headline metrics."""
    from mlflow.exceptions import MlflowException

    names = [name] if name else sorted(m.name for m in client.search_registered_models())
    rows = []
    for n in names:
        try:
            aliases = client.get_registered_model(n).aliases or {}
        except MlflowException:
            raise ConfigError(f"no registered model {n!r}") from None
        by_version: dict[str, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(str(v), []).append(alias)
        for v in sorted(client.search_model_versions(f"name='{n}'"), key=lambda v: -int(v.version)):
            try:
                run_metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
            except MlflowException:
                run_metrics = {}
            tags = v.tags or {}
            rows.append(VersionRow(
                n, str(v.version), sorted(by_version.get(str(v.version), [])),
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(v.creation_timestamp / 1000)),
                dict(sorted(headline(run_metrics).items(), key=lambda kv: display_rank(kv[0]))),
                tags.get(defaults.TAG_DECISION, ""), tags.get(defaults.TAG_REASON, ""),
                tags.get(defaults.TAG_UNSCORABLE, "")))
    return rows


def format_rows(rows: list[VersionRow]) -> str:
    if not rows:
        return "no registered models"
    lines = []
    for r in rows:
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in r.metrics.items())
        alias = f"@{',@'.join(r.aliases)}" if r.aliases else "-"
        lines.append(f"{r.name}  v{r.version}  {alias:<12} {r.created}  {metrics}\n    {r.decision}: {r.reason}")
        if r.unscorable and defaults.CHAMPION in r.aliases:
            lines.append(f"    ! this champion could not be re-scored ({r.unscorable}): the rule never replaces it; "
                         f"`genzoo registry promote {r.name} <version>` moves @champion by hand")
    return "\n".join(lines)
