"""The one training loop under `torchrun` with 2 gloo processes on CPU, for a GAN (two optimisers, the
generator's backward through the discriminator) and a VAE: the ranks end with identical weights (they start
from different noise and see disjoint halves of each batch), and only rank 0 logs — one MLflow run per family.
The averaged gradients are DistributedDataParallel's, and a generator step's are the full batch's."""

import json
import os
import subprocess
import sys

import mlflow
import pytest
import yaml

from tests.conftest import TINY_PARAMS

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out


def test_two_ranks_train_in_step_and_log_once(tmp_path, mnist5k_data):
    import shutil

    root = tmp_path / "project"
    shutil.copytree(mnist5k_data / "mnist5k", root / "data" / "mnist5k")
    params = {**TINY_PARAMS, "family": {**TINY_PARAMS["family"], "vae": {"z_dim": 4, "width": 0.25}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(GENZOO_ROOT=str(root), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "flows.ddp", "--families", "nsgan,vae"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["world_size"] == 2
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mnist5k")
    for family in ("nsgan", "vae"):
        trained = summary["families"][family]["train"]
        assert trained["world_size"] == 2 and len(trained["rank_digests"]) == 2
        assert trained["rank_digests"][0] == trained["rank_digests"][1], trained["rank_digests"]
        runs = client.search_runs([exp.experiment_id], f"tags.`genzoo.family` = '{family}'")
        assert len(runs) == 1, [r.info.run_name for r in runs]
        per_rank = TINY_PARAMS["profiles"]["quick"]["train"]["batch_size"]
        assert runs[0].data.params["train.effective_batch_size"] == str(2 * per_rank)
        assert summary["families"][family]["register"]["alias"] == "champion"
    # one checkpoint directory per family, written by rank 0 only
    ckpts = list((root / ".genzoo" / "checkpoints" / "mnist5k").glob("*/*/last.pt"))
    assert len(ckpts) == 2


def _grads_worker(rank: int, init_file: str) -> None:
    """Rank `rank` of 2: our averaged gradients against DistributedDataParallel's, and a generator step through
    a discriminator against the full batch computed in one process."""
    import torch
    import torch.distributed as dist
    from torch import nn

    from components.training import distributed

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        x = torch.randn(8, 1, 8, 8)
        half = x[rank * 4:(rank + 1) * 4]  # a disjoint share of the batch, as BatchOrder gives each rank

        def net():
            torch.manual_seed(1)
            return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 1))

        ddp, ours = nn.parallel.DistributedDataParallel(net()), net()
        ddp(half).square().mean().backward()
        ours(half).square().mean().backward()
        distributed.average_gradients(torch.optim.SGD(ours.parameters(), lr=0.1))
        for a, b in zip(ddp.module.parameters(), ours.parameters()):
            torch.testing.assert_close(b.grad, a.grad)

        gen, disc = nn.Linear(4, 64), net()  # the generator's loss backpropagates through the discriminator
        z = torch.randn(8, 4, generator=torch.Generator().manual_seed(2))
        disc(gen(z[rank * 4:(rank + 1) * 4]).view(-1, 1, 8, 8)).mean().backward()
        distributed.average_gradients(torch.optim.SGD(gen.parameters(), lr=0.1))  # only G's optimiser steps
        full = nn.Linear(4, 64)
        full.load_state_dict(gen.state_dict())
        disc.zero_grad()
        disc(full(z).view(-1, 1, 8, 8)).mean().backward()
        torch.testing.assert_close(gen.weight.grad, full.weight.grad)
        torch.testing.assert_close(gen.bias.grad, full.bias.grad)
    finally:
        dist.destroy_process_group()


def test_averaged_gradients_are_what_ddp_and_the_full_batch_give(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_grads_worker, args=(str(tmp_path / "init"),), nprocs=2, join=True)
