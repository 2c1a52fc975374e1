"""The graph is checked when it loads: every param a stage declares is a configuration key, so a misspelt one can
never drop a setting out of the stage's key, and every body takes exactly the typed inputs the graph hands it;
every stage result survives its one serialiser."""

import dataclasses

import pytest

from components.config import load_config
from components.pipeline import results
from components.pipeline.context import Context
from components.pipeline.graph import STAGES, Stage, check_inputs, check_params, node
from components.pipeline.stage import Input, arguments
from components.tracking.registration import Registration


def test_a_misspelt_stage_param_fails_when_the_graph_is_checked():
    typo = dataclasses.replace(STAGES["evaluate"], params=("eval", "eval.num_sampels"))
    with pytest.raises(LookupError, match="stage evaluate declares param 'eval.num_sampels', which is not a "
                                          "configuration key"):
        check_params({"evaluate": typo})
    nested = dataclasses.replace(STAGES["train"], params=("train.steps.more",))
    with pytest.raises(LookupError, match="train.steps.more"):
        check_params({"train": nested})
    check_params(STAGES)  # the real graph: every param exists


def test_every_declared_param_reaches_the_key_and_an_unknown_name_raises(tmp_path):
    ctx = Context(load_config(tmp_path), tmp_path)
    for spec in STAGES.values():
        for dotted in spec.params:
            assert ctx.param(dotted, "nsgan") is not None, (spec.name, dotted)
    with pytest.raises(KeyError, match="eval.num_sampels"):
        ctx.param("eval.num_sampels")
    assert ctx.key(node("evaluate", "mnist5k", "nsgan")) != \
        Context(load_config(tmp_path, overrides=["eval.prc_k=7"]), tmp_path).key(node("evaluate", "mnist5k", "nsgan"))


def test_a_stored_result_reads_back_as_its_type_and_another_shape_is_refused():
    ev = results.Evaluated(metrics={"fid_classifier": 1.5}, feature_space="classifier:x", protocol="p",
                           protocol_fields={"genzoo.eval_protocol": "p"}, samples="/s.png", model_dir="/m",
                           run_id="r", files=("/s.png",))
    raw = results.dump(ev)
    assert results.load(results.Evaluated, raw) == ev
    reg = Registration("m", "1", "champion", "first", "p", "r", "models:/m/1")
    assert results.load(Registration, results.dump(reg)) == reg
    assert results.load(results.Trained, raw) is None  # another stage's result
    old = {k: v for k, v in raw.items() if k != results.TYPE}  # what the previous genzoo stored: no type
    assert results.load(results.Evaluated, old) is None
    assert results.load(results.Evaluated, {**raw, "extra": 1}) is None
    assert results.load(results.Evaluated, {k: v for k, v in raw.items() if k != "samples"}) is None


def test_every_stage_declares_a_result_type_and_no_orchestrator_branches_on_a_stage_name():
    import re
    from pathlib import Path

    assert all(isinstance(s, Stage) and dataclasses.is_dataclass(s.result) for s in STAGES.values())
    repo = Path(__file__).resolve().parents[2]
    names = "|".join(STAGES)
    branch = re.compile(rf"""(stage|name)\s*[!=]=\s*["']({names})["']""")
    for f in ["flows/pipeline.py", "flows/ddp.py", "flows/study.py", "components/pipeline/dvc.py",
              "components/pipeline/walk.py", "components/pipeline/context.py", "components/pipeline/runner.py"]:
        assert not branch.search((repo / f).read_text()), f


def test_a_body_whose_keyword_arguments_disagree_with_the_graph_fails_when_the_graph_is_checked():
    check_inputs(STAGES)  # the real graph: every body takes what it is handed

    def wrong_type(ctx, node, out, *, classifiers: tuple[results.ClassifierReady, ...],
                   trained: results.Evaluated) -> results.Evaluated: ...

    def one_not_many(ctx, node, out, *, classifiers: results.ClassifierReady, trained: results.Trained): ...

    def by_dict(ctx, node, out, inputs): ...

    for body, said in ((wrong_type, "'trained': 'Evaluated'"), (one_not_many, "'classifiers': 'ClassifierReady'"),
                       (by_dict, "takes keyword arguments {}")):
        bad = dataclasses.replace(STAGES["evaluate"], run=body)
        with pytest.raises(TypeError, match=f"stage evaluate: .*{re_escape(said)}"):
            check_inputs({"evaluate": bad})


def test_a_family_body_receives_its_own_upstream_result_and_one_result_per_dataset_of_a_pair(tmp_path):
    from components.pipeline.stage import inputs_of
    from components.pipeline.targets import family_target

    cfg = load_config(tmp_path, overrides=["families=[cyclegan]"])
    ev = node("evaluate", family_target(cfg, "cyclegan"), "cyclegan")
    pair = tuple(inputs_of(cfg, ev)["classifier"])
    assert len(pair) == 2 and ev.target not in pair
    trained = results.Trained(run_id="r", steps=3)
    ready = {d: results.ClassifierReady(test_accuracy=0.9, model=d, features=d, feature_space=d, floor={})
             for d in pair}
    args = arguments(ev, {"classifier": ready, "train": {ev.target: trained}})
    assert args == {"classifiers": (ready[pair[0]], ready[pair[1]]), "trained": trained}
    assert not Input("trained", STAGES["train"]).many(ev.stage)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)
