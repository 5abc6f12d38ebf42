"""Per-command cost of the sandboxes: bwrap, landlock and `none` against a plain subprocess.

Each figure is the median wall time of one `true` started through the backend's run() (the
same call run_shell makes), and the total for a 100-command session (`sh -c 'echo N > f'`
repeated, as an agent's edit-test loop would run them), measured in the same run on the same
machine, interleaved so load changes hit every backend alike. The environment is this shell's
(through the same allow-list), so bwrap and landlock show the toolchain folders its PATH and
VIRTUAL_ENV reach (sandbox/toolchains.py), listed first with the median cost of finding them;
"bwrap, no toolchains" is the same backend with none found, so the difference is what showing
them costs.
Run: .venv/bin/python bench/sandbox.py [--runs N] [--session N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import bwrap_status, landlock_status, make_bwrap, make_landlock
from glasscoder.sandbox.env import minimal_env
from glasscoder.sandbox.none import NoSandbox

Runner = Callable[[list[str], Path], object]


def runners() -> dict[str, Runner]:
    env = minimal_env()
    found: dict[str, Runner] = {
        "plain subprocess": lambda argv, cwd: subprocess.run(argv, cwd=cwd, env=env, check=False),
        "none": lambda argv, cwd: NoSandbox().run(argv, cwd, env, Limits()),
    }
    if bwrap_status().ok:
        bwrap = make_bwrap()
        found["bwrap"] = lambda argv, cwd: bwrap.run(argv, cwd, env, Limits())
        found["bwrap, no toolchains"] = lambda argv, cwd: without_toolchains(
            lambda: bwrap.run(argv, cwd, env, Limits())
        )
    else:
        print(f"bwrap skipped: {bwrap_status().problem}")
    if landlock_status().ok:
        landlock = make_landlock()
        found["landlock"] = lambda argv, cwd: landlock.run(argv, cwd, env, Limits())
    else:
        print(f"landlock skipped: {landlock_status().problem}")
    return found


def without_toolchains(call: Callable[[], object]) -> object:
    """call with no toolchain folder found: what the toolchain mounts cost, by difference."""
    from glasscoder.sandbox import toolchains

    found = toolchains.resolve
    toolchains.resolve = lambda *_args: toolchains.Toolchains()
    try:
        return call()
    finally:
        toolchains.resolve = found


def toolchain_cost(cwd: Path, runs: int) -> None:
    """The toolchain folders a command here is shown, and the median time to find them."""
    from glasscoder.sandbox.bwrap import HIDDEN_AREAS
    from glasscoder.sandbox.paths import home_dirs
    from glasscoder.sandbox.toolchains import resolve

    env = minimal_env()
    homes = home_dirs(env)
    areas = [*HIDDEN_AREAS, *homes]
    found = resolve(env, homes, areas, str(cwd))  # the first call reads the PATH folders
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        resolve(env, homes, areas, str(cwd))
        times.append(time.perf_counter() - start)
    print(
        f"toolchain folders shown ({len(found.mounts)}), found in a median "
        f"{statistics.median(times) * 1000:.2f} ms per command:"
    )
    for mount in found.mounts:
        print(f"  {mount.path}: {mount.reason}")


def per_command(run: Runner, cwd: Path) -> float:
    start = time.perf_counter()
    run(["true"], cwd)
    return time.perf_counter() - start


def session(run: Runner, cwd: Path, commands: int) -> float:
    start = time.perf_counter()
    for i in range(commands):
        run(["sh", "-c", f"echo {i} > f"], cwd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--session", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch).resolve()
        toolchain_cost(cwd, args.runs)
        backends = runners()
        for run in backends.values():  # warm-up: the seccomp program, the probe, page cache
            per_command(run, cwd)
        times: dict[str, list[float]] = {name: [] for name in backends}
        for _ in range(args.runs):
            for name, run in backends.items():
                times[name].append(per_command(run, cwd))
        (cwd / "f").touch()  # landlock lets commands change, not create, top-level files
        totals = {name: session(run, cwd, args.session) for name, run in backends.items()}
    anchor = statistics.median(times["plain subprocess"])
    print(f"{'backend':22} {'median/command':>15} {'overhead':>10} {args.session}-command session")
    for name in backends:
        median = statistics.median(times[name])
        print(f"{name:22} {median * 1000:12.1f} ms {(median - anchor) * 1000:7.1f} ms "
              f"{totals[name]:8.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
