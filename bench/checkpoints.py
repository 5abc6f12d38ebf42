"""What a checkpoint costs per turn on a large tree, beside a shadow-git snapshot of the same tree.

The tree is Django 5.2's sdist from PyPI (about 6,900 files in 3,200 folders) unless --tree
DIR is given; it is copied to a scratch folder first. Figures:
- first: the first checkpoint (every file read, hashed and stored);
- per turn: the median of N checkpoints, each after a "turn" that appended a line to 3 files;
- restore: undoing one such turn (which first takes the "before undo" checkpoint);
- next session: the first checkpoint of a new process that finds the walk cache saved by the
  last one's close() (and the time close() took to save it);
- floor: one lstat of every file and folder, which any per-turn look at the tree must make.
The peer is what aider-style and Codex-style tools do: a git repository of their own beside
the tree (`git --git-dir=SHADOW --work-tree=TREE add -A` then `commit`), timed the same way
on the same turns. The user's tree is never a repository here, as for glasscoder.
Run: .venv/bin/python bench/checkpoints.py [--runs N] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from glasscoder.agent.checkpoints import Checkpoints

sys.path.insert(0, str(Path(__file__).resolve().parent))
import repomap  # the bench folder's own Django fetch

SDIST = "django==5.2.*"
EDITED = ("django/db/models/query.py", "django/urls/resolvers.py", "django/forms/forms.py")


def fetch_django(folder: Path) -> Path:
    return repomap.fetch_django(folder, SDIST)


def edited_files(tree: Path) -> list[Path]:
    chosen = [tree / rel for rel in EDITED if (tree / rel).is_file()]
    if len(chosen) < 3:  # another tree: the first three Python files
        chosen = sorted(tree.rglob("*.py"))[:3]
    return chosen


def turn(files: list[Path], number: int) -> None:
    for path in files:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"# turn {number}\n")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def shadow_git(shadow: Path, tree: Path) -> Callable[[str], None]:
    base = ["git", f"--git-dir={shadow}", f"--work-tree={tree}", "-c", "user.name=bench",
            "-c", "user.email=bench@example.com", "-c", "core.fsmonitor=false"]  # fmt: skip
    subprocess.run([*base, "init", "-q"], check=True, capture_output=True)

    def snapshot(label: str) -> None:
        subprocess.run([*base, "add", "-A"], check=True, capture_output=True)
        subprocess.run(
            [*base, "commit", "-q", "--allow-empty", "--no-verify", "-m", label],
            check=True, capture_output=True,
        )  # fmt: skip

    return snapshot


def measure(name: str, snapshot: Callable[[str], object], files: list[Path], runs: int) -> float:
    first = timed(lambda: snapshot("first"))
    turn(files, 0)
    snapshot("warm-up")  # the files of the first turn, still too recent to trust, settle
    times = []
    for number in range(1, runs + 1):
        turn(files, number)
        times.append(timed(lambda n=number: snapshot(f"turn {n}")))
    per_turn = statistics.median(times)
    print(f"{name:<28} first {first:8.0f} ms   per turn {per_turn:6.1f} ms"
          f"   (min {min(times):.1f}, max {max(times):.1f})")  # fmt: skip
    return per_turn


def lstat_floor(tree: Path, runs: int) -> float:
    paths = []
    for directory, _, files in os.walk(tree):
        paths += [directory, *(os.path.join(directory, name) for name in files)]
    return statistics.median(timed(lambda: [os.lstat(p) for p in paths]) for _ in range(runs))


def measure_glasscoder(tree: Path, work: Path, runs: int) -> float:
    store, cache = work / "store", work / "cache.json"
    checkpoints = Checkpoints(tree, store, cache=cache)
    per_turn = measure("glasscoder checkpoint", checkpoints.snapshot, edited_files(tree), runs)
    target = checkpoints.list()[-2].id
    undo = timed(lambda: checkpoints.restore(target))
    print(f"{'glasscoder restore (undo)':<28} {undo:.1f} ms")
    saved = timed(checkpoints.close)
    turn(edited_files(tree), runs + 1)
    time.sleep(2.1)
    again = Checkpoints(tree, store, cache=cache)
    first = timed(lambda: again.snapshot("next session"))
    again.close()
    print(
        f"{'glasscoder next session':<28} first {first:8.0f} ms   (cache saved in {saved:.0f} ms)"
    )
    print(f"{'floor: lstat of every entry':<28} {lstat_floor(tree, runs):.1f} ms")
    return per_turn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--tree", type=Path)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ckbench-") as temp:
        work = Path(temp)
        source = opts.tree.resolve() if opts.tree else fetch_django(work / "sdist")
        ours, peers = work / "ours", work / "peer"
        shutil.copytree(source, ours, symlinks=True)
        shutil.copytree(source, peers, symlinks=True)
        time.sleep(2.1)  # a tree just unpacked is all "recently changed"; a real one is not
        files = sum(1 for p in ours.rglob("*") if p.is_file())
        print(f"tree: {source.name}, {files} files; {opts.runs} turns of 3 changed files each")
        ours_ms = measure_glasscoder(ours, work, opts.runs)
        peer_ms = measure("shadow git add -A + commit", shadow_git(work / "shadow.git", peers),
                          edited_files(peers), opts.runs)  # fmt: skip
        print(f"ratio per turn (shadow git / glasscoder): {peer_ms / ours_ms:.1f}")


if __name__ == "__main__":
    main()
