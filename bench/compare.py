"""Run one benchmark against two versions of the code in the same run, alternating, so a
change's figures and its baseline's share the machine's state (other load, caches, clocks).

    python bench/compare.py --base 4615864 bench/bench_dispatch.py [--rounds 3] [-- args...]

The base version is checked out with ``git worktree`` into a temporary folder and each tree
runs its own copy of the benchmark (so it speaks that tree's API) with its own ``gateway``
package; the output says when the two copies differ. Every number in the output is paired by
its place; the table shows each one's median over the rounds, the ratio after/before, and every
round's value (so the noise can be judged).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def run(tree: Path, script: Path, args: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree))
    result = subprocess.run([sys.executable, str(tree / script), *args], cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"{script.name} failed in {tree}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def numbers(output: str) -> list[tuple[str, list[float]]]:
    return [(line, [float(n) for n in NUMBER.findall(line)]) for line in output.splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", type=Path)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    script = options.script.resolve().relative_to(ROOT)
    args = [a for a in options.args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="gw-bench-base-") as tmp:
        base = Path(tmp) / "base"
        shared = ROOT.parent / "shared"
        if shared.exists():  # the specs the benchmark's doubles read lie beside the checkout
            (Path(tmp) / "shared").symlink_to(shared)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), options.base], check=True,
                       capture_output=True)
        try:
            runs: dict[str, list[list[tuple[str, list[float]]]]] = {"before": [], "after": []}
            for round_ in range(options.rounds):
                order = [("before", base), ("after", ROOT)] if round_ % 2 == 0 else [("after", ROOT), ("before", base)]
                for label, tree in order:
                    print(f"round {round_ + 1}: {label} ({tree})", file=sys.stderr, flush=True)
                    runs[label].append(numbers(run(tree, script, args)))
            same = (base / script).read_bytes() == (ROOT / script).read_bytes()
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True)
    print(f"{script}: medians of {options.rounds} alternating rounds; before = {options.base}, after = this tree"
          + ("" if same else f" (the two copies of {script} differ)"))
    for index, (line, values) in enumerate(runs["after"][0]):
        if not values:
            print(line)
            continue
        before_lines = [r[index][1] for r in runs["before"] if index < len(r) and len(r[index][1]) == len(values)]
        after_lines = [r[index][1] for r in runs["after"] if len(r[index][1]) == len(values)]
        cells = []
        for position in range(len(values)):
            after = statistics.median(v[position] for v in after_lines)
            before = statistics.median(v[position] for v in before_lines) if before_lines else float("nan")
            ratio = after / before if before else float("nan")
            spread = "/".join(f"{v[position]:g}" for v in before_lines) + " → " + "/".join(f"{v[position]:g}" for v in after_lines)
            cells.append(f"{before:g} → {after:g} ({ratio:.2f}×) [rounds {spread}]")
        print(f"{line}\n    " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
