"""Cost of finding the deny-listed files before each sandboxed command (glasscoder.denied.scan).

Prints, for each tree given, the median wall time of one scan by a fresh Scanner (every folder
listed and matched; the page cache is warm, as it is when commands run one after another) and
by the session's Scanner (unchanged folders taken from its listings), how many entries were
walked, and what was found; beside it the anchor, one bwrap `true` through the backend's run()
in an empty workspace (the cost every command already pays), measured in the same run.
Run: .venv/bin/python bench/deny_walk.py [--runs N] TREE...
(e.g. Django 5.1's sdist unpacked, and the venv's site-packages)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from glasscoder.denied import PRUNED, Scanner, scan
from glasscoder.ignore import SECRET_FILES, DenyList
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import bwrap_status, make_bwrap
from glasscoder.sandbox.env import minimal_env


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def visited(root: str) -> int:
    count = 0
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in PRUNED]
        count += len(dirs) + len(files)
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("trees", nargs="+", type=Path)
    opts = parser.parse_args()
    deny = DenyList(SECRET_FILES)
    if bwrap_status().ok:
        box = make_bwrap()
        with tempfile.TemporaryDirectory(prefix="deny-walk-") as scratch:
            root = Path(scratch).resolve()
            ms = median_ms(lambda: box.run(["true"], root, minimal_env(), Limits()), opts.runs)
        print(f"anchor: bwrap `true` in an empty workspace: {ms:.1f} ms")
    for tree in opts.trees:
        root = str(tree.resolve())
        found = scan(root, deny)
        cold = median_ms(lambda root=root: scan(root, deny), opts.runs)
        session = Scanner(deny)
        session.scan(root)
        warm = median_ms(lambda root=root, session=session: session.scan(root), opts.runs)
        print(
            f"{tree}: {visited(root):,} entries walked; {cold:.1f} ms per fresh scan, "
            f"{warm:.1f} ms per session scan; found "
            f"{len(found.files)} files, {len(found.dirs)} dirs, {len(found.links)} symlinks, "
            f"{len(found.twins)} hard links"
        )


if __name__ == "__main__":
    main()
