"""A Ctrl-C whose KeyboardInterrupt something swallowed still stops the walk before its next stage
(components/stop.py): the failure Prefect's flow start-up produced, reproduced without Prefect."""

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
