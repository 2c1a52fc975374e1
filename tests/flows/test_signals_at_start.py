"""SIGINT at the moment the flow run begins (where a Ctrl-C was once lost and the run registered a version) ends
`genzoo run` with 130 and nothing registered. Earlier moments (as Prefect's temporary server starts, 0-5 s into
it) were checked by hand and stopped the same way; later ones are tests/flows/test_task_runners.py's."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import registered_versions
from tests.flows.conftest import command_env, make_project
from tests.processes import as_from_a_terminal

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out


def test_sigint_as_the_flow_run_begins_stops_the_run_with_nothing_registered(tmp_path, mnist5k_data):
    moment = "Beginning flow run"
    root = make_project(tmp_path, mnist5k_data)
    env = {**command_env(root), "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run"], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=as_from_a_terminal)
    seen = []
    try:
        for raw in proc.stdout:
            seen.append(raw.decode(errors="replace"))
            if moment in seen[-1]:
                os.kill(proc.pid, signal.SIGINT)  # the main process only, at once
                started = time.monotonic()
                break
        else:
            pytest.fail(f"never saw {moment!r}: {''.join(seen)[-2000:]}")
        rest = proc.stdout.read().decode(errors="replace")
        rc = proc.wait(timeout=120)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 130 and "genzoo: interrupted" in rest, rest[-3000:]
    assert took < 60
    assert "Created version" not in rest and not registered_versions(root, "mnist5k-nsgan")
