"""Start-up against a peer, in one run on one machine: glasscoder and mini-swe-agent.

Measures `--help`, and the time from starting a task to the first chat-completions request
reaching a model server on 127.0.0.1 (bench/startup.py's ArrivalServer); a process is killed once
its request has arrived. Each figure is the median of N runs, printed as a ratio to
`python3 -c pass` measured in the same run, and as a glasscoder/peer ratio.
The peer lives in its own venv: run `sh bench/setup_peers.sh` first. Without it, or if it cannot
be driven, the script says so and prints glasscoder's figures alone.
Run: .venv/bin/python bench/peer_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.startup import ArrivalServer
from tests.fakes.openai_server import FakeReply, FakeToolCall, Scripted

BENCH = Path(__file__).resolve().parent
TASK = "Say hello."
TIMEOUT = 60.0  # seconds a command may take to exit (--help) or to send its first request
PEER_VENV = BENCH / ".peers" / "mini-swe-agent"
# mini-swe-agent headless and offline: no first-run setup wizard; litellm's bundled model cost
# map instead of a fetch from the internet at import; no error on the unknown model's cost; and
# a key, which the OpenAI client insists on.
PEER_ENV = {
    "MSWEA_CONFIGURED": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "MSWEA_COST_TRACKING": "ignore_errors",
    "OPENAI_API_KEY": "sk-fake",
}
SUBMIT = FakeReply(
    tool_calls=[FakeToolCall("bash", {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})]
)


class Unreachable(Exception):
    """A command failed, or never sent its request."""


@dataclass
class Contender:
    name: str
    help_argv: list[str]
    task_argv: Callable[[str], list[str]]  # the endpoint's base URL -> the command
    env: dict[str, str]
    reply: Scripted
    help_times: list[float] = field(default_factory=list)
    first_times: list[float] = field(default_factory=list)


def glasscoder(env: dict[str, str]) -> Contender:
    cmd = [sys.executable, "-m", "glasscoder"]
    return Contender("glasscoder", [*cmd, "--help"],
                     lambda url: [*cmd, "-p", TASK, "--endpoint", url, "--output-format", "json"],
                     env, "Done.")  # fmt: skip


def mini_swe_agent(env: dict[str, str], home: Path) -> Contender:
    mini = str(PEER_VENV / "bin" / "mini")

    def task(url: str) -> list[str]:
        # -c replaces the default config, so mini.yaml is named before the override.
        return [mini, "--yolo", "--exit-immediately", "-t", TASK, "-m", "openai/fake-model",
                "-c", "mini.yaml", "-c", f"model.model_kwargs.api_base={url}",
                "-o", str(home / "mini.traj.json")]  # fmt: skip

    return Contender("mini-swe-agent", [mini, "--help"], task, {**env, **PEER_ENV}, SUBMIT)


def peer_version() -> str | None:
    """The installed peer's version, with litellm's; None when it is not installed."""
    if not (PEER_VENV / "bin" / "mini").exists():
        return None
    code = "from importlib.metadata import version as v; print(v('mini-swe-agent'), v('litellm'))"
    out = subprocess.run([PEER_VENV / "bin" / "python", "-c", code], capture_output=True, text=True)
    if out.returncode != 0 or len(out.stdout.split()) != 2:
        return None
    mini, litellm = out.stdout.split()
    return f"mini-swe-agent {mini} (litellm {litellm})"


def run_time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    # A timer kills a hung command: wait(timeout=...) would poll, adding up to 50 ms a run.
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    except OSError as e:
        raise Unreachable(str(e)) from e
    timer = threading.Timer(TIMEOUT, proc.kill)
    timer.start()
    returncode = proc.wait()
    elapsed = time.perf_counter() - start
    timed_out = not timer.is_alive()
    timer.cancel()
    if timed_out:
        raise Unreachable(f"{' '.join(argv)} still ran after {TIMEOUT:.0f} s")
    if returncode != 0:
        raise Unreachable(f"{' '.join(argv)} exited with {returncode}")
    return elapsed


def first_request(srv: ArrivalServer, c: Contender, cwd: Path, out: IO[str] | int) -> float:
    while srv.next_reply() is not None:  # drop what a failed run left, so c gets its reply
        pass
    srv.add(c.reply)
    srv.arrived.clear()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(c.task_argv(srv.base_url), cwd=cwd, env=c.env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)  # fmt: skip
    except OSError as e:
        raise Unreachable(str(e)) from e
    try:
        arrived = wait_for_arrival(srv, proc)
    finally:
        proc.kill()  # a peer may wait for further replies; the arrival is all we need
        proc.wait()
    if not arrived:
        if proc.returncode >= 0:  # it ended by itself, not by our kill
            raise Unreachable(f"exited with {proc.returncode} before sending a request")
        raise Unreachable(f"no request within {TIMEOUT:.0f} s")
    return srv.arrival - start


def wait_for_arrival(srv: ArrivalServer, proc: subprocess.Popen[bytes]) -> bool:
    """Whether the request arrived: False at once if the process ends without sending one."""
    deadline = time.monotonic() + TIMEOUT
    while not srv.arrived.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            return srv.arrived.is_set()
    return True


def warm_up(srv: ArrivalServer, c: Contender, cwd: Path, home: Path) -> bool:
    """One unmeasured run of each command (file cache, bytecode); False, saying why, on failure."""
    log = home / "warm-up.log"
    try:
        run_time(c.help_argv, cwd, c.env)
        with log.open("w") as out:
            first_request(srv, c, cwd, out)
    except Unreachable as e:
        tail = log.read_text()[-1500:] if log.exists() else ""
        print(f"{c.name} CANNOT BE DRIVEN, left out: {e}\n{tail}")
        return False
    return True


def measure(runs: int, with_peer: bool) -> tuple[list[float], list[Contender]]:
    with tempfile.TemporaryDirectory() as tmp, ArrivalServer() as srv:
        home, cwd = Path(tmp), Path(tmp) / "project"
        cwd.mkdir()
        (cwd / "README.md").write_text("hello\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data",
               "XDG_CONFIG_HOME": f"{tmp}/config"}  # fmt: skip
        contenders = [glasscoder(env)] + ([mini_swe_agent(env, home)] if with_peer else [])
        contenders = [c for c in contenders if warm_up(srv, c, cwd, home)]
        anchor: list[float] = []
        for _ in range(runs):
            anchor.append(run_time(["python3", "-c", "pass"], cwd, env))
            contenders = [c for c in contenders if measure_once(srv, c, cwd)]
    return anchor, contenders


def measure_once(srv: ArrivalServer, c: Contender, cwd: Path) -> bool:
    try:
        c.help_times.append(run_time(c.help_argv, cwd, c.env))
        c.first_times.append(first_request(srv, c, cwd, subprocess.DEVNULL))
    except Unreachable as e:
        print(f"{c.name} FAILED during the runs, left out: {e}")
        return False
    return True


def report(anchor: list[float], contenders: list[Contender]) -> None:
    base = statistics.median(anchor)
    print(f"python3 -c pass (anchor): {base * 1000:.0f} ms, median of {len(anchor)} runs\n")
    paired = len(contenders) == 2  # glasscoder first, then the peer
    header = "".join(f"{c.name:>28}" for c in contenders)
    print(f"{'median (ratio to anchor)':<26}{header}" + ("   glasscoder/peer" if paired else ""))
    for label, attr in (("--help", "help_times"), ("command -> first request", "first_times")):
        medians = [statistics.median(getattr(c, attr)) for c in contenders]
        cells = "".join(f"{m * 1000:>16.0f} ms ({m / base:5.1f}x)" for m in medians)
        ratio = f"{medians[0] / medians[1]:>18.2f}" if paired else ""
        print(f"{label:<26}{cells}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    version = peer_version()
    if version is None:
        print(f"PEER NOT INSTALLED: no working mini-swe-agent in {PEER_VENV}; "
              "run `sh bench/setup_peers.sh`. glasscoder's figures alone follow.")  # fmt: skip
    else:
        print(f"peer: {version}, in {PEER_VENV}")
    anchor, contenders = measure(runs, with_peer=version is not None)
    if version is not None and [c.name for c in contenders] != ["glasscoder", "mini-swe-agent"]:
        print("Not every contender could be measured; the figures below are for the rest.")
    report(anchor, contenders)


if __name__ == "__main__":
    main()
