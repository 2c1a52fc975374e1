import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from components.data import store
from components.errors import TrainingDiverged
from components.training.loop import CHECKPOINT, BatchOrder, LoopConfig, fit
from tests.conftest import model_of

STEPS = 12


def _data(data_dir):
    ds = store.read("mnist5k", data_dir)
    return torch.from_numpy(ds.arrays["train_images"][:512]), torch.from_numpy(ds.arrays["train_labels"][:512])


def _train(data_dir, ckpt, steps=STEPS, seed=0, **loop):
    torch.manual_seed(seed)
    model = model_of("nsgan", (1, 28, 28), 10, {"z_dim": 8, "width": 0.125})
    x, y = _data(data_dir)
    res = fit(model, x, y, LoopConfig(steps=steps, batch_size=32, checkpoint_every=3, log_every=3, progress=False,
                                      seed=seed, **loop), ckpt)
    return model, res


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_channels_last_trains_the_nets_in_nhwc_and_matches_the_contiguous_run(mnist5k_data, tmp_path):
    """train.channels_last changes the memory layout, not the model: the same losses up to float rounding."""
    nhwc, res = _train(mnist5k_data, tmp_path / "nhwc", steps=6, channels_last=True, precision="fp32")
    plain, ref = _train(mnist5k_data, tmp_path / "plain", steps=6, precision="fp32")
    conv = next(p for p in nhwc.parameters() if p.dim() == 4 and p.shape[-1] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert [h["step"] for h in res.history] == [3, 6]
    for a, b in zip(res.history, ref.history):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-4) for k in a)


@pytest.mark.parametrize("fused", [True, False], ids=["fused-adam", "foreach-adam"])
def test_resume_after_stop_matches_uninterrupted(mnist5k_data, tmp_path, fused):
    full, res = _train(mnist5k_data, tmp_path / "a", fused_adam=fused)
    assert res.resumed_from == 0 and [h["step"] for h in res.history] == [3, 6, 9, 12]
    _train(mnist5k_data, tmp_path / "b", steps=6, fused_adam=fused)
    resumed, res_b = _train(mnist5k_data, tmp_path / "b", fused_adam=fused)
    assert res_b.resumed_from == 6
    assert _same(full, resumed)
    assert res_b.history == res.history


KILL_SCRIPT = """
import sys, torch
from pathlib import Path
from components.data import store
from components.models.registry import get_family
from components.training.loop import LoopConfig, fit
ds = store.read("mnist5k", Path(sys.argv[1]))
torch.set_num_threads(int(sys.argv[3]))  # the test's own: another thread count sums in another order
torch.manual_seed(0)
fam = get_family("nsgan")
model = fam.build((1, 28, 28), 10, fam.hyperparameters({"z_dim": 8, "width": 0.125}))
x, y = torch.from_numpy(ds.arrays["train_images"][:512]), torch.from_numpy(ds.arrays["train_labels"][:512])
fit(model, x, y, LoopConfig(steps=10_000, batch_size=32, checkpoint_every=3, log_every=3, progress=False), Path(sys.argv[2]))
"""


def test_sigkill_mid_training_then_resume_matches(mnist5k_data, tmp_path):
    """A real SIGKILL while training: the atomic checkpoint survives and resuming ends where an unbroken run does."""
    ckpt = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(mnist5k_data), str(ckpt),
                             str(torch.get_num_threads())],
                            cwd=Path(__file__).resolve().parents[2])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (ckpt / CHECKPOINT).exists() and torch.load(ckpt / CHECKPOINT, weights_only=True)["step"] >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the training process ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(ckpt / CHECKPOINT, weights_only=True)["step"]
    steps = killed_at + 3
    resumed, res = _train(mnist5k_data, ckpt, steps=steps)
    assert res.resumed_from == killed_at
    full, _ = _train(mnist5k_data, tmp_path / "full", steps=steps)
    assert _same(full, resumed)


def test_nan_loss_stops_the_run(mnist5k_data, tmp_path):
    torch.manual_seed(0)
    model = model_of("nsgan", (1, 28, 28), 10, {"z_dim": 8, "width": 0.125, "lr": 1e30})
    x, y = _data(mnist5k_data)
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        fit(model, x, y, LoopConfig(steps=200, batch_size=32, checkpoint_every=100, log_every=2, progress=False),
            tmp_path)


def test_batch_order_covers_each_epoch_once_and_splits_ranks():
    order = BatchOrder(100, 10, seed=3)
    epoch = torch.cat([order.indices(s) for s in range(10)])
    assert sorted(epoch.tolist()) == list(range(100))
    assert not torch.equal(order.indices(0), order.indices(10))  # a new permutation per epoch
    r0, r1 = BatchOrder(100, 10, 3, rank=0, world=2), BatchOrder(100, 10, 3, rank=1, world=2)
    assert set(r0.indices(0).tolist()).isdisjoint(r1.indices(0).tolist())


def test_bf16_autocast_runs_on_cpu(mnist5k_data, tmp_path):
    torch.manual_seed(0)
    model = model_of("nsgan", (1, 28, 28), 10, {"z_dim": 8, "width": 0.125})
    x, y = _data(mnist5k_data)
    res = fit(model, x[:64], y[:64], LoopConfig(steps=2, batch_size=32, checkpoint_every=2, log_every=1,
                                                precision="bf16", progress=False), tmp_path)
    assert len(res.history) == 2 and all(torch.isfinite(torch.tensor(h["d_loss"])) for h in res.history)
