"""A Ctrl-C whose KeyboardInterrupt something swallowed still stops the walk before its next stage, and a
study worker's lost stop its training at the next step (components/stop.py): the failures Prefect's flow start-up
and a garbage-collection callback produced, reproduced without Prefect."""

import os
import signal
import time

import pytest

from components import stop
from components.config import Config
from components.errors import Interrupted
from components.pipeline import graph, walk
from components.pipeline.context import Context


def test_a_swallowed_sigint_stops_the_walk_before_its_next_stage(tmp_path):
    previous = signal.getsignal(signal.SIGINT)
    ran, raised = [], False
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a terminal's, whatever this process inherited
        stop.install()
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs by then at the latest
        except KeyboardInterrupt:
            raised = True  # and is swallowed, as Prefect's start-up did
        with pytest.raises(Interrupted, match="stopped by SIGINT"):
            walk.walk(Context(Config(), tmp_path), graph.plan(Config())[:2],
                      run=lambda ctx, node, inputs: ran.append(node))
    finally:
        signal.signal(signal.SIGINT, previous)
        stop._requested = None  # no later test in this process may find the stop asked for
    assert raised and ran == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the lost stop, as it is printed
def test_a_workers_stop_that_lands_in_a_garbage_collection_callback_still_stops_training(tmp_path, mnist5k_data):
    """A study worker's SIGINT raised inside a __del__ (as one landed in SQLAlchemy's registry cleanup) is printed
    as 'Exception ignored' and lost; the loop's check of the record stops the trial at its next step."""
    from components.data import store
    from components.training.loop import LoopConfig, fit
    from flows.task_runners import interruptible
    from tests.conftest import model_of

    class Collected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)  # the worker's handler raises here, where nothing can catch it

    ds = store.read("mnist5k", mnist5k_data)
    x, y = ds.arrays["train_images"][:256], ds.arrays["train_labels"][:256]
    steps: list[int] = []

    def on_log(step, means):
        steps.append(step)
        if step == 2:
            Collected()  # made and collected at once: the stop lands in its __del__

    model = model_of("nsgan", (1, 28, 28), 10, {"z_dim": 8, "width": 0.125})
    cfg = LoopConfig(steps=50, batch_size=32, checkpoint_every=50, log_every=2, progress=False, precision="fp32")
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a worker's, whatever an earlier test left here
        with pytest.raises(Interrupted, match="stopped by SIGINT"), interruptible():
            import torch

            fit(model, torch.from_numpy(x), torch.from_numpy(y), cfg, tmp_path / "ckpt", on_log=on_log)
    finally:
        signal.signal(signal.SIGINT, previous)
        stop._requested = None
    assert steps == [2]  # not one more log: it stopped at the step after the lost stop
