"""Peak memory of the serving guard's own checks (components/tracking/serving.py) on bodies of 1, 16 and 64 MiB:
the nesting-depth scan alone, and the whole JSON check (`refuse`: the scan, then one parse for fields, columns and
params, freed before MLflow's own parse). Each case runs in a fresh process; the figure is its peak RSS minus the
RSS it had holding the body. Three shapes: one long string value (what made the old regex cost ~120x the body), a
run of whitespace, and numbers in an "inputs" array (a real batch).

    python benchmarks/serving_guard_memory.py [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", nargs=3)
    args = p.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]), args.child[2])
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
