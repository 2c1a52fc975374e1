"""`train.precision: auto` is bf16 autocast exactly where the processor runs bf16 natively, fp32 elsewhere; the
resolved precision is what the loop runs, what MLflow logs, and part of the train key."""

import torch

from components.config import load_config
from components.pipeline.context import Context
from components.pipeline.graph import node
from components.training import precision
from components.training.loop import LoopConfig

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})
NATIVE_BF16 = AVX2_ONLY | {"avx512f", "avx512_bf16"}


def test_auto_is_bf16_only_with_native_bf16():
    cpu = torch.device("cpu")
    assert precision.resolve("auto", cpu, AVX2_ONLY) == "fp32"
    assert precision.resolve("auto", cpu, NATIVE_BF16) == "bf16"
    assert precision.resolve("auto", cpu, AVX2_ONLY | {"amx_bf16"}) == "bf16"
    assert precision.resolve("fp32", cpu, NATIVE_BF16) == "fp32"  # an explicit choice is kept
    assert precision.resolve("bf16", cpu, AVX2_ONLY) == "bf16"


def test_the_resolved_precision_is_what_the_loop_runs_and_part_of_the_train_key(project, monkeypatch):
    train = node("train", "mnist5k", "nsgan")
    keys = {}
    for flags, want in ((AVX2_ONLY, "fp32"), (NATIVE_BF16, "bf16")):
        monkeypatch.setattr(precision, "cpu_flags", lambda f=flags: f)  # the processor, injected
        cfg = load_config(project, overrides=["train.precision=auto", "train.device=cpu"])
        ctx = Context(cfg, project)
        assert ctx.param("train")["precision"] == want
        assert LoopConfig.from_cfg(cfg.train, seed=0).precision == want
        keys[want] = ctx.key(train)
    assert keys["fp32"] != keys["bf16"]

    monkeypatch.setattr(precision, "cpu_flags", lambda: NATIVE_BF16)
    fp32_here = load_config(project, overrides=["train.precision=fp32", "train.device=cpu"])
    assert Context(fp32_here, project).key(train) == keys["fp32"]  # fp32 asked for = fp32 chosen by auto
