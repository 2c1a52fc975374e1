"""Peak memory of the serving guard's own checks (components/tracking/serving.py) on bodies of 1, 16 and 64 MiB:
the nesting-depth scan alone, and the whole JSON check (`refuse`: the scan, then one parse for fields, columns and
params, freed before MLflow's own parse). Each case runs in a fresh process; the figure is its peak RSS minus the
RSS it had holding the body. Three shapes: one long string value (what made the old regex cost ~120x the body), a
run of whitespace, and numbers in an "inputs" array (a real batch).

    python benchmarks/serving_guard_memory.py [--json]
    python benchmarks/serving_guard_memory.py --server mnist-nsgan [--json]   # in a project with that model

`--server NAME`: the same bodies POSTed to a running `genzoo serve --name NAME` (MLflow's scoring app behind the
guard, one process): the server's RSS before each request and its peak while answering it (VmHWM, reset before
each request through /proc/PID/clear_refs), with the answer's status. The 64 MiB body is 1 KiB under the cap.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

MIB = 1 << 20


def body_of(shape: str, size: int) -> bytes:
    if shape == "string":
        return b'{"inputs": ["' + b"a" * (size - 16) + b'"]}'
    if shape == "whitespace":
        return b'{"inputs": [1' + b" " * (size - 16) + b"]}"
    numbers = b"0.5, " * ((size - 16) // 5)
    return b'{"inputs": [' + numbers[:-2] + b"]}"


def child(shape: str, size: int, what: str) -> None:
    from components.tracking.serving import nesting_depth, refuse

    body = body_of(shape, size)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if what == "scan":
        nesting_depth(body)
    else:
        refuse(body, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"shape": shape, "mib": size // MIB, "check": what, "extra_mib": round((peak - base) / 1024, 1)}))


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def server(name: str) -> list[dict]:
    """The bodies against a running `genzoo serve --name NAME` in the current project."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--name", name, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url + "/ping", timeout=2).read()
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"genzoo serve --name {name} did not come up") from None
                time.sleep(1)
        rows = []
        for shape in ("string", "whitespace", "numbers"):
            for mib in (1, 16, 64):
                body = body_of(shape, mib * MIB - (1024 if mib == 64 else 0))
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
                before = _kib(proc.pid, "VmRSS")
                request = urllib.request.Request(url + "/invocations", data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                try:
                    status = urllib.request.urlopen(request, timeout=600).status
                except urllib.error.HTTPError as err:
                    status = err.code
                except (urllib.error.URLError, ConnectionError):  # 413 from Content-Length, before the body
                    status = "413 (answered before the upload ended)"
                peak = _kib(proc.pid, "VmHWM")
                rows.append({"shape": shape, "mib": mib, "status": status, "rss_before_mib": round(before / 1024, 1),
                             "extra_peak_mib": round((peak - before) / 1024, 1)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", nargs=3)
    p.add_argument("--server", metavar="NAME", help="measure a running `genzoo serve --name NAME` instead")
    args = p.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]), args.child[2])
    if args.server:
        rows = server(args.server)
        print(json.dumps(rows, indent=1) if args.json else "\n".join(
            f"{r['shape']:<11} {r['mib']:>3} MiB  HTTP {r['status']}  RSS {r['rss_before_mib']} MiB "
            f"+{r['extra_peak_mib']} MiB peak" for r in rows))
        return None
    rows = []
    for shape in ("string", "whitespace", "numbers"):
        for mib in (1, 16, 64):
            for what in ("scan", "refuse"):
                out = subprocess.run([sys.executable, __file__, "--child", shape, str(mib * MIB), what],
                                     capture_output=True, text=True, check=True).stdout
                rows.append(json.loads(out))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['shape']:<11} {r['mib']:>3} MiB  {r['check']:<7} +{r['extra_mib']} MiB")


if __name__ == "__main__":
    main()
