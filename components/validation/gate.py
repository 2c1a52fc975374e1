"""The Great Expectations gate: one suite per dataset over its table of per-image facts.

A failing suite raises ValidationFailed naming each failed expectation; the JSON result and the Data Docs
site are written first, so the user can read why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any
from pathlib import Path

from components.config.schema import Validation
from components.data.store import Dataset
from components.errors import ValidationFailed
from components.validation import causes, pinned, report
from components.validation.facts import image_facts, point_facts
from components.validation.pinned_stats import PINNED

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
log = logging.getLogger(__name__)


INTEGER_LABELS = ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64")


def build_expectations(dataset: Dataset, cfg: Validation) -> list:
    if dataset.mixture is not None:
        return point_expectations(dataset, cfg)
    import great_expectations as gx

    E = gx.expectations
    c, h, w = dataset.image_shape[2], dataset.image_shape[0], dataset.image_shape[1]
    expected_rows = sum(int(v) for v in dataset.meta.get("counts", {}).values()) or None
    n_classes = len(dataset.classes)
    n_train = len(dataset.arrays["train_labels"])
    n_test = len(dataset.arrays["test_labels"])
    min_share = cfg.min_class_fraction
    dup_share = cfg.max_duplicate_fraction
    out = [
        E.ExpectColumnValuesToBeInSet(column="height", value_set=[h]),
        E.ExpectColumnValuesToBeInSet(column="width", value_set=[w]),
        E.ExpectColumnValuesToBeInSet(column="channels", value_set=[c]),
        # 8-bit pixels and integer labels: the loader casts to uint8/int64, so a float image in [0, 1] or a
        # wider integer would otherwise pass the value checks and become another image
        E.ExpectColumnValuesToBeInSet(column="dtype", value_set=[f"uint8/{k}" for k in INTEGER_LABELS]),
        E.ExpectColumnValuesToNotBeNull(column="pixel_min"),
        E.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
        E.ExpectColumnValuesToBeBetween(column="pixel_min", min_value=cfg.value_min, max_value=cfg.value_max),
        E.ExpectColumnValuesToBeBetween(column="pixel_max", min_value=cfg.value_min, max_value=cfg.value_max),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(n_classes))),
        # every class present in both splits
        E.ExpectColumnUniqueValueCountToBeBetween(column="split_label", min_value=2 * n_classes, max_value=2 * n_classes),
        # class_count is the size of the row's class within its split: every class needs a fair share
        E.ExpectColumnValuesToBeBetween(
            column="class_count", min_value=int(min_share * min(n_train, n_test) / n_classes)
        ),
        # duplicate pixels within or across splits (test images leaking into training)
        E.ExpectColumnValuesToBeUnique(column="sha1", mostly=1.0 - dup_share),
    ]
    if expected_rows:  # the counts recorded when the dataset was materialised
        out.append(E.ExpectTableRowCountToEqual(value=expected_rows))
    relaxed = set(cfg.relax.get(dataset.name, []))
    if "contrast" not in relaxed:
        # images binarised to 0/1 bytes are black: contrast of at least min_contrast grey levels in 99% of them
        out.append(E.ExpectColumnValuesToBeBetween(column="contrast", min_value=cfg.min_contrast, mostly=0.99))
    if dataset.name in PINNED:  # against the version data.dvc pins, split by split (validation/pinned.py)
        if "orientation" not in relaxed:  # each split's mean image as the pin's, not transposed or flipped
            out.append(E.ExpectColumnValuesToBeInSet(column="orientation",
                                                     value_set=[pinned.AS_PINNED, pinned.OTHER_SHAPE]))
        if "ink" not in relaxed:  # a mean pixel value far from the pin's: rescaled, inverted or binarised pixels
            out.append(E.ExpectColumnValuesToBeBetween(column="ink_ratio", min_value=1 / cfg.max_ink_ratio,
                                                       max_value=cfg.max_ink_ratio))
        if "labels" not in relaxed:  # each class's mean image like the pin's same class: not shuffled or shifted
            out.append(E.ExpectColumnValuesToBeInSet(column="label_looks",
                                                      value_set=[pinned.AS_PINNED, pinned.NOT_JUDGED]))
    return out


def point_expectations(dataset: Dataset, cfg: Validation) -> list:
    """The suite of a 2-D mixture (data/mixtures.py): two finite float columns, every point labelled with a mode
    and lying near it, every mode holding its share in both splits."""
    import great_expectations as gx

    E = gx.expectations
    modes = dataset.mixture.modes
    n_train, n_test = len(dataset.arrays["train_labels"]), len(dataset.arrays["test_labels"])
    out = [
        E.ExpectColumnValuesToBeInSet(column="columns", value_set=[2]),
        E.ExpectColumnValuesToBeInSet(column="dtype", value_set=[f"float32/{k}" for k in INTEGER_LABELS]),
        E.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
        E.ExpectColumnValuesToNotBeNull(column="x"),
        E.ExpectColumnValuesToNotBeNull(column="y"),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(modes))),
        E.ExpectColumnUniqueValueCountToBeBetween(column="split_label", min_value=2 * modes, max_value=2 * modes),
        E.ExpectColumnValuesToBeBetween(
            column="class_count", min_value=int(cfg.min_class_fraction * min(n_train, n_test) / modes)),
        # a Gaussian point lies beyond 6 sigma of its centre with probability exp(-18) in 2-D: a point that far
        # from its labelled mode is mislabelled, or its coordinates were swapped, flipped or rescaled
        E.ExpectColumnValuesToBeBetween(column="sigmas_from_mode", min_value=0, max_value=6),
    ]
    expected_rows = sum(int(v) for v in dataset.meta.get("counts", {}).values()) or None
    if expected_rows:
        out.append(E.ExpectTableRowCountToEqual(value=expected_rows))
    return out


MAX_EXAMPLES = 3  # distinct unexpected values shown in the one line; result.json and report.html have them all


def failed_check(er) -> str:
    """The facts column a failed expectation checks ("rows" for the table's row count)."""
    return er.expectation_config.kwargs.get("column") or "rows"


def describe_failure(er) -> str:
    """One failed expectation, short: its type and arguments, how many rows, distinct examples once."""
    cfg = er.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    if "value_set" in kwargs and len(kwargs["value_set"]) > 4:
        kwargs["value_set"] = f"{len(kwargs['value_set'])} values"
    res = er.result or {}
    detail = []
    if res.get("unexpected_count"):
        detail.append(f"{res['unexpected_count']} unexpected rows")
    examples = list(dict.fromkeys(repr(v) for v in res.get("partial_unexpected_list") or []))
    if examples:
        more = ", ..." if len(examples) > MAX_EXAMPLES else ""
        detail.append(f"e.g. [{', '.join(examples[:MAX_EXAMPLES])}{more}]")
    if "observed_value" in res:
        detail.append(f"observed {res['observed_value']}")
    if er.exception_info and er.exception_info.get("raised_exception"):
        detail.append(f"error: {er.exception_info.get('exception_message')}")
    return f"{cfg.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): " + ", ".join(detail)


def validate(dataset: Dataset, cfg: Validation, out_dir: Path) -> dict:
    """Run the suite; write result.json and Data Docs under out_dir; raise ValidationFailed on failure."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    facts = point_facts(dataset) if dataset.mixture is not None else image_facts(dataset)
    out_dir = Path(out_dir)
    shutil.rmtree(out_dir / "data_docs", ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.add_data_docs_site("local", {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir / "data_docs")},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    batch = ctx.data_sources.add_pandas(f"{dataset.name}-source").add_dataframe_asset("image_facts") \
        .add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name=f"{dataset.name}-images"))
    for exp in build_expectations(dataset, cfg):
        suite.add_expectation(exp)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{dataset.name}-gate", data=batch, suite=suite))
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(
        name=f"{dataset.name}-checkpoint", validation_definitions=[vd],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=["local"])],
    ))
    run = checkpoint.run(batch_parameters={"dataframe": facts})
    (result,) = run.run_results.values()
    result_dict = json.loads(json.dumps(result.to_json_dict(), default=str))
    (out_dir / "result.json").write_text(json.dumps(result_dict, indent=2))
    page = report.write(result_dict, dataset.name, out_dir / "report.html")
    failed = [er for er in result.results if not er.success]
    columns = {failed_check(er) for er in failed}
    likely = causes.likely(columns, facts, cfg, dataset.name)
    hint = causes.relax_hint(columns, dataset.name)
    summary: dict[str, Any] = {
        "dataset": dataset.name,
        "success": bool(result.success),
        "rows": int(len(facts)),
        "evaluated": len(result.results),
        "failed": [describe_failure(er) for er in failed],
        "likely": likely,
        "result_json": str(out_dir / "result.json"),
        "data_docs": str(out_dir / "data_docs" / "index.html"),
        "report": str(page),  # the same result readable offline (Data Docs fetch their CSS/JS from CDNs)
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not result.success:
        raise ValidationFailed(dataset.name, summary["failed"], summary["report"], likely, hint)
    return summary

