"""prepare: materialise data/<dataset>/ from its source; existing copies are kept (DVC pins them, not this)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from components import defaults
from components.data import sources, store
from components.pipeline.results import Prepared

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Node

log = logging.getLogger(__name__)


def run(ctx: Context, node: Node, out: Path) -> Prepared:
    """Asking for one embedded dataset materialises all of them: together they are the data/ data.dvc pins."""
    from components.files import locked, project_lock
    from components.versioning import sync_data_pin

    dataset = node.target
    names = list(defaults.EMBEDDED_DATASETS) if dataset in defaults.EMBEDDED_DATASETS else [dataset]
    created = []
    with locked(project_lock(ctx.root, "data")):  # two runs never materialise the same dataset at once
        for name in names:
            if not (ctx.data_dir / name).exists():
                log.info("materialising %s into %s", name, ctx.data_dir / name)
                store.write(sources.fetch(name, ctx.cfg.data), name, ctx.data_dir)
                created.append(name)
    pin = sync_data_pin(ctx.root, ctx.data_dir) if created else "unchanged"
    if created:
        ctx.data_changed()
    path = ctx.data_dir / dataset
    return Prepared(dataset=dataset, path=str(path), hash=ctx.dataset_hash(dataset), created=tuple(created),
                    data_pin=pin, files=(str(path),))
