"""The `genzoo` command as a new user meets it: a bad configuration is one line on stderr and exit status 2,
before any Prefect server starts or any MLflow run is written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_PARAMS

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out


@pytest.fixture(scope="module")
def empty_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    (root / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS, sort_keys=False))
    return root


def genzoo(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env["GENZOO_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


BAD = {
    "misspelt key": (["run", "--set", "train.stepz=60"], "unknown key train.stepz; did you mean train.steps?"),
    "unknown section": (["run", "--set", "nosuch.key=1"], "unknown key nosuch;"),
    "wrong type": (["run", "--set", "train.steps=abc"], "train.steps='abc': input should be a valid integer"),
    "unknown precision": (["run", "--set", "train.precision=fp8"], "expected one of 'auto', 'fp32', 'bf16' or 'fp16'"),
    "unknown device": (["run", "--set", "train.device=gpu"], "expected auto, cpu, mps, cuda or cuda:N"),
    "unknown task runner": (["study", "--set", "study.task_runner=spark"],
                            "expected one of 'threads', 'processes', 'dask' or 'ray'"),
    "unknown dataset": (["run", "--dataset", "nosuch"], "unknown dataset 'nosuch': known cifar10"),
    "unknown family": (["run", "--families", "nsgan,nosuch"], "unknown model family 'nosuch'"),
    # a typo is blamed on the option that carried it, with the nearest name
    "misspelt family": (["run", "--families", "gan"], "--families: unknown model family 'gan' (in families); "
                                                      "did you mean wgan?"),
    "misspelt dataset": (["run", "--dataset", "mnist5"], "--dataset: unknown dataset 'mnist5': did you mean "
                                                         "'mnist5k'?"),
    "misspelt stage": (["stage", "trian"], "unknown stage 'trian'; did you mean train?"),
    "unknown profile": (["run", "--profile", "fast"], "profile 'fast': not in params.yaml's profiles"),
    "unknown hyperparameter": (["stage", "train", "--family", "nsgan", "--set", "family.nsgan.lrr=1"],
                               "did you mean family.nsgan.lr?"),
    "per-family stage without a family": (["stage", "train"], "stage train runs once per family: give --family"),
    "unregistered model": (["serve", "--name", "nosuch"], "models:/nosuch@champion is not in the registry"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configuration_is_one_line_and_exit_2_before_anything_starts(empty_project, case):
    args, message = BAD[case]
    proc = genzoo(empty_project, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: ") and message in lines[0], proc.stderr
    assert not (empty_project / "mlflow.db").exists() or case == "unregistered model"  # no run was written
    assert not list((empty_project / ".genzoo").rglob("*.db"))  # no Prefect server (its database) started
    assert not (empty_project / "outputs").exists()


def test_debug_shows_the_traceback(empty_project):
    proc = genzoo(empty_project, "--debug", "run", "--set", "train.stepz=60")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_an_expected_error_inside_a_task_is_one_line_without_a_prefect_traceback(tmp_path, mnist5k_data):
    """A crafted .npy header inside the flow: genzoo's one line, Prefect's run logs one line each, no traceback,
    no retry, nothing allocated for the claimed shape."""
    from numpy.lib import format as npy

    from tests.flows.conftest import make_project

    root = make_project(tmp_path, mnist5k_data)
    with (root / "data" / "mnist5k" / "test_images.npy").open("wb") as fh:
        npy.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28, 1)})
        fh.write(b"\0" * 4096)
    proc = genzoo(root, "run")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("genzoo: error: ")]
    assert "test_images.npy: truncated" in line
    assert "Retries" not in proc.stderr and proc.stderr.count("test_images.npy: truncated") <= 4
    message = line.removeprefix("genzoo: error: ")
    assert proc.stderr.count(message) <= 2, proc.stderr  # in full once by Prefect, once by genzoo; repeats are cut
    task_lines = [x for x in proc.stderr.splitlines() if "prefect.task_runs" in x]
    assert task_lines and all(" [prepare@mnist5k]: " in x or " [validate@mnist5k]: " in x for x in task_lines), \
        task_lines  # each names its task
    debug = genzoo(root, "--debug", "run")
    assert debug.returncode != 0 and "Traceback" in debug.stderr  # --debug shows everything


def test_a_port_in_use_is_one_line_with_a_free_one_to_use(empty_project):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = genzoo(empty_project, "ui", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"genzoo ui: port {port} on 127.0.0.1 is already in use" in line and "`genzoo ui --port " in line


def test_help_answers_without_importing_torch_mlflow_or_prefect(empty_project):
    code = ("import sys\nfrom flows.cli import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'mlflow', 'prefect') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "quick (default), full or lucic" in " ".join(proc.stdout.split())  # every profile is named


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs to put a project on, remountable to another size (skipped where mounting is not permitted)."""
    where = tmp_path / "disk"
    where.mkdir()

    def size(mib: int) -> None:
        mode = "remount," if os.path.ismount(where) else ""
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"{mode}size={mib}m", "tmpfs", str(where)],
                          capture_output=True).returncode:
            pytest.skip("mounting a tmpfs is not permitted here")

    yield where, size
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_too_little_space_to_start_is_one_line_before_any_server_starts(small_disk, mnist5k_data):
    from tests.flows.conftest import make_project

    where, size = small_disk
    size(7)
    root = make_project(where, mnist5k_data)  # 4 MB of data, 3 MB free
    proc = genzoo(root, "run")
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"genzoo: error: no space left to write {root} (a run needs 32.0 MiB to start its stores) ("), proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and not list(root.rglob("*.db"))  # no Prefect or MLflow store


def test_a_disk_that_fills_during_the_run_is_one_line_and_a_rerun_with_space_resumes(small_disk, mnist5k_data):
    """The project on a filesystem that fills up during the run (the embedded datasets do not fit): exit 2, one
    line naming the path and its free space, no traceback, nothing half-written; a rerun with room ends."""
    from tests.conftest import registered_versions
    from tests.flows.conftest import make_project

    where, size = small_disk
    size(44)
    root = make_project(where, mnist5k_data)
    proc = genzoo(root, "run")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) < 30, proc.stderr[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("genzoo: error: ")]
    assert line.startswith(f"genzoo: error: no space left to write {root}/data/") and " free there): " in line, line
    assert sorted(p.name for p in (root / "data").iterdir()) == ["mnist5k"]  # no half-written dataset or copy
    assert registered_versions(root, "mnist5k-nsgan") == []
    size(400)
    again = genzoo(root, "run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(registered_versions(root, "mnist5k-nsgan")) == 1
