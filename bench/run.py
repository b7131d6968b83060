"""`make bench`: every benchmark, one after the other, each printing ratios measured in its own
run; results as JSON under bench/results/. `--quick` shortens the long ones."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

BENCHES: list[tuple[str, list[str], list[str]]] = [
    # (name, arguments, quick arguments)
    ("capture", [], ["--quick"]),
    ("storage", [], ["--readings", "20000", "--rounds", "3"]),
    ("cloud", [], ["--duration", "10"]),
    (
        "sync",
        [],
        ["--files", "10000", "--binary-mb", "16", "--repeats", "1", "--backlog", "100000"],
    ),
    ("proxy", [], ["--megabytes", "50", "--round-trips", "500", "--transfers", "10000"]),
    ("scenarios", [], []),
    ("simulate", [], ["--short", "30m", "--long", "2h"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("only", nargs="*", help="run only these benchmarks")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    failed = []
    for name, full, quick in BENCHES:
        if args.only and name not in args.only:
            continue
        out = RESULTS / f"{name}.json"
        command = [sys.executable, str(HERE / f"bench_{name}.py"), *(quick if args.quick else full)]
        command += ["--json", str(out)]
        print(f"\n== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, check=False)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - start:.1f}s")
        if done.returncode:
            failed.append(name)
    print(f"\nresults in {RESULTS}; " + (f"failed: {', '.join(failed)}" if failed else "all ran"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
