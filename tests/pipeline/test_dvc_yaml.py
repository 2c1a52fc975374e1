"""dvc.yaml is the stage graph as DVC sees it: the same stages, inputs, code and params."""

from pathlib import Path

import yaml

from components.pipeline import dvc, keys
from components.pipeline.graph import STAGES

REPO = Path(__file__).resolve().parents[2]


def test_dvc_yaml_is_the_rendered_graph():
    assert (REPO / "dvc.yaml").read_text() == dvc.render(), "run: python -m components.pipeline.dvc > dvc.yaml"


def test_dvc_yaml_lists_every_stage_with_its_inputs_code_and_params():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == [s for s, spec in STAGES.items() if spec.in_dvc_yaml]
    for name, entry in stages.items():
        spec = STAGES[name]
        body = entry["do"] if spec.per_family else entry
        assert ("foreach" in entry) == spec.per_family
        deps = body["deps"]
        for up in spec.upstream:  # each input's stamp is a dependency, so DVC runs stages in the graph's order
            if up.in_dvc_yaml:
                assert dvc.done_name(up.name, "${item}" if up.per_family else None) in deps
        # the code the key covers, and every upstream stage's: what reruns an upstream stage reruns this one
        for stage in _upstream(spec):
            for f in keys.closure(*stage.modules("nsgan" if stage.per_family else None)):
                rel = f.relative_to(keys.ROOT).as_posix()
                assert rel == "components/__init__.py" or any(rel == d or rel.startswith(d + "/") for d in deps), rel
        assert body["params"] == [{"params.yaml": None}]
        assert body["cmd"].startswith(f"genzoo stage {name}")


def _upstream(spec):
    yield spec
    for up in spec.upstream:
        yield from _upstream(up)
