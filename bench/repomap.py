"""The repo map on a large real repository, beside aider's, in one run on one machine.

Figures, each the median of N runs (a fresh process each time, so only the on-disk caches
carry over, as between two glasscoder sessions):
- full build: a map from a cold cache (walk, read, parse every file, rank, render);
- incremental: the map again after one file changed (one file re-parsed, the rest cached).
Both maps get the same files (the ones glasscoder maps), the same 1,000-token budget and the
same token count (characters / 4), and no task or files in play.
Then glasscoder alone, as a run's first turn does it (first_turn_map with the map_time budget):
- first turn, cold / warm: how long the first request waits for its map, from a cold cache and
  again with every file unchanged, whether the map made it in, and when the background build
  behind it was done.
The repository is Django 5.1's sdist from PyPI unless --repo DIR is given. aider lives in its
own venv: run `sh bench/setup_peers.sh` first; without it glasscoder's figures print alone.
Run: .venv/bin/python bench/repomap.py [--runs N] [--repo DIR] [--map-time S] [--first-turn-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
AIDER_PYTHON = BENCH / ".peers" / "aider" / "bin" / "python"
SDIST = "django==5.1"
TOKENS = 1000
EDITED = "django/db/models/query.py"  # the one file changed for the incremental figure
FIRST_TASK = "bulk_create ignores batch_size on SQLite; fix QuerySet.bulk_create."

GLASSCODER_DRIVER = """
import json, sys, time
started = time.perf_counter()
from glasscoder.repomap.build import map_text, open_index
from glasscoder.workspace import Workspace
index = open_index(Workspace(sys.argv[1]))
text = map_text(index, "", (), int(sys.argv[2]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "parsed": index.parses, "chars": len(text),
                  "files": sorted(index.files)}))
"""
# The clock starts when the task is handed over: what the first request waits for.
FIRST_TURN_DRIVER = """
import json, sys, time
from glasscoder.repomap.build import first_turn_map, shared_index
from glasscoder.workspace import Workspace
workspace, notices = Workspace(sys.argv[1]), []
intro = first_turn_map(workspace, int(sys.argv[2]), notices.append, float(sys.argv[3]))
started = time.perf_counter()
text = intro(sys.argv[4])
waited = time.perf_counter() - started
shared_index(workspace).run(lambda index: None)  # waits for the background build to end
print(json.dumps({"seconds": waited, "built": time.perf_counter() - started,
                  "map": bool(text), "chars": len(text), "notices": notices}))
"""
# aider's RepoMap as aider builds it, with a stand-in model whose only job is counting tokens.
AIDER_DRIVER = """
import json, sys, time
started = time.perf_counter()
from aider.io import InputOutput
from aider.repomap import RepoMap
root, tokens, files = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
class CharsModel:
    def token_count(self, text):
        return len(text) / 4
parsed = 0
raw = RepoMap.get_tags_raw
def counted(self, fname, rel_fname):
    global parsed
    parsed += 1
    return raw(self, fname, rel_fname)
RepoMap.get_tags_raw = counted
io = InputOutput(pretty=False, yes=True, fancy_input=False)
repo_map = RepoMap(map_tokens=tokens, root=root, main_model=CharsModel(), io=io)
text = repo_map.get_repo_map([], [f"{root}/{f}" for f in files]) or ""
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "parsed": parsed, "chars": len(text)}))
"""


def fetch_django(folder: Path, sdist: str = SDIST) -> Path:
    """Django's sdist from PyPI, unpacked in `folder` (bench/checkpoints.py uses it too)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", sdist, "-d", str(folder)],
        check=True,
    )  # fmt: skip
    archive = next(folder.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return next(p for p in folder.iterdir() if p.is_dir())


def run_driver(python: Path | str, code: str, args: list[str], env: dict[str, str]) -> Any:
    proc = subprocess.run(
        [str(python), "-c", code, *args], capture_output=True, text=True, timeout=1800,
        env={**os.environ, **env}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # aider prints notes before it


class Contenders:
    def __init__(self, repo: Path, work: Path, with_aider: bool, map_time: float) -> None:
        self.repo, self.work, self.with_aider, self.map_time = repo, work, with_aider, map_time
        self.file_list = work / "files.json"
        self.figures: dict[str, list[dict[str, Any]]] = {}

    def glasscoder(self, label: str, data_home: Path) -> None:
        env = {"XDG_DATA_HOME": str(data_home)}
        result = run_driver(sys.executable, GLASSCODER_DRIVER, [str(self.repo), str(TOKENS)], env)
        if not self.file_list.exists():
            self.file_list.write_text(json.dumps(result["files"]))
        result["files"] = len(result["files"])
        self.figures.setdefault(f"glasscoder {label}", []).append(result)

    def first_turn(self, label: str, data_home: Path) -> None:
        env = {"XDG_DATA_HOME": str(data_home)}
        args = [str(self.repo), str(TOKENS), str(self.map_time), FIRST_TASK]
        result = run_driver(sys.executable, FIRST_TURN_DRIVER, args, env)
        self.figures.setdefault(f"first turn {label}", []).append(result)

    def aider(self, label: str) -> None:
        if not self.with_aider:
            return
        args = [str(self.repo), str(TOKENS), str(self.file_list)]
        result = run_driver(AIDER_PYTHON, AIDER_DRIVER, args, {})
        self.figures.setdefault(f"aider {label}", []).append(result)

    def one_round(self, round_no: int, first_turn_only: bool) -> None:
        first_turn_home = self.work / f"xdg-first-turn-{round_no}"
        if first_turn_only:
            self.first_turn("cold", first_turn_home)
            self.first_turn("warm", first_turn_home)
            return
        data_home = self.work / f"xdg-{round_no}"
        shutil.rmtree(self.repo / ".aider.tags.cache.v4", ignore_errors=True)
        self.glasscoder("full build", data_home)
        self.aider("full build")
        edited = self.repo / EDITED
        if not edited.exists():  # --repo: another repository; change its first mapped file
            edited = self.repo / json.loads(self.file_list.read_text())[0]
        edited.write_text(edited.read_text() + f"\n\ndef bench_added_{round_no}():\n    pass\n")
        self.glasscoder("incremental", data_home)
        self.aider("incremental")
        self.first_turn("cold", first_turn_home)
        self.first_turn("warm", first_turn_home)


def report(figures: dict[str, list[dict[str, Any]]], runs: int) -> None:
    print(f"\n{'figure':32} {'median s':>9} {'parsed':>7} {'map chars':>10}  (runs: {runs})")
    medians = {}
    for name, results in figures.items():
        if name.startswith("first turn"):
            continue
        medians[name] = statistics.median(r["seconds"] for r in results)
        last = results[-1]
        print(f"{name:32} {medians[name]:9.2f} {last['parsed']:7} {last['chars']:10}")
    for label in ("full build", "incremental"):
        ours, peer = medians.get(f"glasscoder {label}"), medians.get(f"aider {label}")
        if ours and peer:
            print(f"glasscoder/aider, {label}: {ours / peer:.2f}")


def report_first_turn(figures: dict[str, list[dict[str, Any]]], map_time: float) -> None:
    print(f"\n{'first request (map_time ' + str(map_time) + ' s)':32} {'waited s':>9} "
          f"{'with map':>9} {'build done s':>13}")  # fmt: skip
    for label in ("cold", "warm"):
        results = figures[f"first turn {label}"]
        waited = statistics.median(r["seconds"] for r in results)
        built = statistics.median(r["built"] for r in results)
        with_map = sum(r["map"] for r in results)
        print(f"{label:32} {waited:9.2f} {f'{with_map}/{len(results)}':>9} {built:13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repo", type=Path, help="a repository to map instead of Django's")
    parser.add_argument("--map-time", type=float, default=2.0, help="first-turn budget, s")
    parser.add_argument("--first-turn-only", action="store_true", help="skip the other figures")
    opts = parser.parse_args()
    with_aider = AIDER_PYTHON.exists() and not opts.first_turn_only
    if not with_aider and not opts.first_turn_only:
        print("aider is not installed (sh bench/setup_peers.sh): glasscoder's figures alone.")
    with tempfile.TemporaryDirectory(prefix="repomap-bench-") as tmp:
        work = Path(tmp)
        source = opts.repo.resolve() if opts.repo else fetch_django(work / "sdist")
        repo = work / "repo"
        shutil.copytree(source, repo, symlinks=True)  # the bench edits a file: never the original
        contenders = Contenders(repo, work, with_aider, opts.map_time)
        for round_no in range(opts.runs):
            contenders.one_round(round_no, opts.first_turn_only)
            print(f"round {round_no + 1} of {opts.runs} done", file=sys.stderr)
        print(f"repository: {source.name}")
        if not opts.first_turn_only:
            print(f"{contenders.figures['glasscoder full build'][0]['files']} files mapped")
            report(contenders.figures, opts.runs)
        report_first_turn(contenders.figures, opts.map_time)
        print(f"load average at the end (1, 5 min): {os.getloadavg()[0]:.1f}, "
              f"{os.getloadavg()[1]:.1f} on {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
