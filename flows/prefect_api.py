"""One temporary Prefect API for a `genzoo` command, in a session of its own.

With no PREFECT_API_URL, Prefect starts a temporary server (uvicorn) in each process that needs one, inside the
caller's process group. Two things go wrong with that:
- Ctrl-C in a terminal reaches the server along with the run, so the run's last state reports go to a dead
  server and Prefect's clients retry for minutes before the command ends;
- every worker of a process pool (`study.task_runner: processes`) starts a server of its own on the same
  database.
`start` launches the one server with `start_new_session` and points PREFECT_API_URL at it, for this process
and every process it starts. It is Prefect's SubprocessASGIServer (port choice, health wait, stop at exit);
only the launch differs. The reaper's mark is an environment variable, not a group, so a `kill -9` of the run
still takes the server down.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import prefect
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import (PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, PREFECT_UI_URL, get_current_settings,
                              temporary_settings)

ENV = "PREFECT_API_URL"


class OwnSessionServer(SubprocessASGIServer):
    def _run_uvicorn_command(self) -> subprocess.Popen:
        # Prefect 3's own command and environment for its temporary server (prefect/server/api/server.py)
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1", **get_current_settings().to_environment_variables(exclude_unset=True)},
            start_new_session=True)


@contextlib.contextmanager
def temporary_api():
    """Within it, Prefect talks to the one temporary server (started here unless the user has a server of their
    own, PREFECT_API_URL, or Prefect may not start one). The server stops when the process exits, as Prefect's
    does: after Prefect's own exit handlers have sent their last logs and events to it."""
    if os.environ.get(ENV) or get_current_settings().api.url or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        yield
        return
    server = OwnSessionServer()
    server.start()
    os.environ[ENV] = server.api_url  # for the processes started from here on (pool workers)
    # for this process (settings are read once); no UI URL: the temporary server serves none, so Prefect's
    # "View at http://127.0.0.1:.../runs/..." would be a dead link
    with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_UI_URL: ""}):
        yield
