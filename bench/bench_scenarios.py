"""Simulated seconds per wall second for every library scenario (issue 7), measured one after
the other in this process, plus each scenario's verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dmsim.scenario import run_scenario

ROOT = Path(__file__).resolve().parents[1] / "scenarios"


def _label(path: Path) -> str:
    """A library scenario by its path under scenarios/, any other as given."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios", nargs="*", type=Path, help="only these scenario files (default: the library)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rows = []
    for path in args.scenarios or sorted(ROOT.rglob("*.scenario.yaml")):
        report = run_scenario(path, progress=False)
        data = report.to_json_dict()
        rows.append({
            "scenario": _label(path),
            "verdict": data["verdict"],
            "sim_seconds": data["sim_seconds"],
            "wall_seconds": data["wall_seconds"],
            "sim_per_wall": data["speedup"],
        })  # fmt: skip
        print(f"{rows[-1]['scenario']:<55} {data['verdict']:<5} "
              f"{data['sim_seconds']:>9.0f} sim s in {data['wall_seconds']:>6.1f} wall s "
              f"= {data['speedup']:>8.1f}×")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all(r["verdict"] == "pass" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
