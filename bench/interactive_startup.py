"""Interactive start-up against a peer: from the command to a prompt ready to type.

glasscoder's interactive session and Qwen Code's (npm `@qwen-code/qwen-code`, command `qwen`),
each in a real terminal (a tmux pane of 120x40), runs alternated in one run on one machine. The
clock starts just before the pane is spawned and stops at the first screen (polled every 10 ms)
showing the program's ready marker. Both are given a model on a fake OpenAI-compatible server on
127.0.0.1 so neither opens a set-up dialog, and each has its own HOME and XDG folders in a temp
folder and a small git repository as its workspace; one unmeasured run each comes first (file
cache, first-run state). Also shown: the RSS of each program's process tree at its prompt.
Qwen Code is installed outside the repository (the script prints how when it is missing).
Run: .venv/bin/python bench/interactive_startup.py [--runs N] [--qwen PATH] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.openai_server import FakeOpenAIServer

QWEN_VERSION = "0.24.4"
QWEN_PREFIX = Path.home() / ".cache" / "glasscoder-bench" / "qwen-code"
QWEN_DEFAULT = QWEN_PREFIX / "node_modules" / ".bin" / "qwen"
QWEN_INSTALL = "npm install --prefix ~/.cache/glasscoder-bench/qwen-code @qwen-code/qwen-code@"
# glasscoder's contract: the prompt line starts with the prompt sign and the bottom toolbar,
# below it, names the sandbox.
GLASSCODER_PROMPT = "\u276f"  # ❯
GLASSCODER_TOOLBAR = "sandbox"
QWEN_READY = "Type your message"  # the input box's placeholder, once the box takes keys
# Qwen Code's user settings: the OpenAI-compatible provider chosen (no auth dialog); no update
# check or auto-update, usage statistics or telemetry, none of which glasscoder does either.
QWEN_SETTINGS = {
    "security": {"auth": {"selectedType": "openai"}},
    "general": {"enableAutoUpdate": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
}
MODEL = "fake"
COLS, ROWS = 120, 40
POLL = 0.010  # seconds between screen captures
TIMEOUT = 30.0  # seconds a program may take to show its prompt
# A tmux server of our own, never the user's; kill-server leaves the socket file, removed after.
SOCKET = str(Path(tempfile.gettempdir()) / f"glasscoder-bench-tmux-{os.getpid()}")


class TmuxFailed(Exception):
    """tmux itself failed (gone mid-run, or refused a command)."""


class NotReady(Exception):
    """The program exited or never showed its prompt; carries the last screen."""

    def __init__(self, why: str, screen: str) -> None:
        super().__init__(why)
        self.screen = screen


@dataclass
class Contender:
    key: str  # names its figures in the JSON
    name: str
    argv: list[str]
    env: dict[str, str]
    workspace: Path
    ready: Callable[[list[str]], bool]  # the screen's lines -> whether the prompt is up
    times: list[float] = field(default_factory=list)  # seconds
    rss: list[int] = field(default_factory=list)  # bytes, the process tree's at the prompt


def glasscoder_ready(lines: list[str]) -> bool:
    prompt = [i for i, line in enumerate(lines) if line.lstrip().startswith(GLASSCODER_PROMPT)]
    return bool(prompt) and any(GLASSCODER_TOOLBAR in line for line in lines[prompt[0] + 1 :])


def qwen_ready(lines: list[str]) -> bool:
    return any(QWEN_READY in line for line in lines)


def tmux(*args: str, check: bool = True) -> str:
    try:
        out = subprocess.run(["tmux", "-u", "-S", SOCKET, *args], capture_output=True, text=True)
    except OSError as e:
        if check:
            raise TmuxFailed(f"tmux could not be run: {e}") from e
        return ""
    if check and out.returncode != 0:
        raise TmuxFailed(f"tmux {args[0]} failed: {out.stderr.strip()}")
    return out.stdout


def start_tmux_server(env: dict[str, str]) -> int:
    """A server with a clean environment, kept up by an idle session, so no run pays its start;
    returns its pid."""
    argv = ["tmux", "-S", SOCKET, "-u", "-f", "/dev/null", "new-session", "-d", "-s", "idle", "cat"]
    if subprocess.run(argv, env=env).returncode != 0:
        raise TmuxFailed("tmux could not start its server")
    # A pane whose program exits stays, so the bench can show what it printed.
    tmux("set-option", "-g", "remain-on-exit", "on")
    return int(tmux("display-message", "-p", "#{pid}").strip())


def stop_tmux_server(pid: int) -> None:
    try:
        tmux("kill-server")
    except TmuxFailed:  # tmux gone mid-run: end the server by its pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    Path(SOCKET).unlink(missing_ok=True)


def spawn(c: Contender, session: str) -> int:
    envs = [arg for key, value in c.env.items() for arg in ("-e", f"{key}={value}")]
    out = tmux("new-session", "-d", "-s", session, "-x", str(COLS), "-y", str(ROWS),
               "-c", str(c.workspace), "-P", "-F", "#{pane_pid}", *envs, *c.argv)  # fmt: skip
    return int(out.strip())


def screen(session: str) -> tuple[bool, list[str]]:
    """Whether the pane's program has exited, and the pane's lines, in one tmux call."""
    out = tmux("display-message", "-p", "-t", session, "#{pane_dead}", ";",
               "capture-pane", "-p", "-t", session)  # fmt: skip
    first, _, rest = out.partition("\n")
    return first.strip() == "1", rest.splitlines()


def time_to_prompt(c: Contender, session: str) -> tuple[float, int]:
    """Seconds from spawning to the ready screen, and the tree's RSS then; the pane is closed."""
    start = time.perf_counter()
    pid = spawn(c, session)
    tree: list[int] = []
    try:
        tick = start
        while True:
            # Taken before the capture: a prompt drawn while tmux answers counts from here (a few
            # ms early), one drawn since the last capture up to a poll late.
            seen = time.perf_counter()
            dead, lines = screen(session)
            if c.ready(lines):
                tree = process_tree(pid)
                return seen - start, sum(rss_of(p) for p in tree)
            if dead:
                raise NotReady("exited before showing its prompt", "\n".join(lines))
            if seen - start > TIMEOUT:
                raise NotReady(f"no prompt within {TIMEOUT:.0f} s", "\n".join(lines))
            tick += POLL
            time.sleep(max(0.0, tick - time.perf_counter()))
    finally:
        close(session, tree or process_tree(pid))


def close(session: str, pids: list[int]) -> None:
    """Ends the session (SIGHUP to its program), then kills what of its tree is left."""
    tmux("kill-session", "-t", session, check=False)
    deadline = time.monotonic() + 3.0
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if Path(f"/proc/{p}").exists()]
        time.sleep(0.02)
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def workspace(path: Path) -> Path:
    """A small git repository, the same for both programs."""
    (path / "src").mkdir(parents=True)
    (path / "README.md").write_text("# demo\n\nA small project.\n")
    (path / "src" / "app.py").write_text('def greet(name: str) -> str:\n    return f"hi {name}"\n')
    git = ["git", "-C", str(path), "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return path


def home_env(home: Path, base: dict[str, str]) -> dict[str, str]:
    dirs = {"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache",
            "XDG_STATE_HOME": "state"}  # fmt: skip
    return {**base, "HOME": str(home), **{k: str(home / v) for k, v in dirs.items()}}


def contenders(tmp: Path, url: str, python: str, qwen: Path) -> list[Contender]:
    node = shutil.which("node")  # Qwen Code's command is a node script run through env
    node_dir = [str(Path(node).parent)] if node else []
    path = ":".join(dict.fromkeys([*node_dir, "/usr/bin", "/bin"]))
    base = {"PATH": path, "LANG": "C.UTF-8", "TERM": "tmux-256color"}
    made = []
    for name in ("glasscoder", "qwen"):
        (tmp / name / "home").mkdir(parents=True)
        made.append((home_env(tmp / name / "home", base), workspace(tmp / name / "ws")))
    (g_env, g_ws), (q_env, q_ws) = made
    (tmp / "qwen" / "home" / ".qwen").mkdir()
    (tmp / "qwen" / "home" / ".qwen" / "settings.json").write_text(json.dumps(QWEN_SETTINGS))
    q_env = {**q_env, "OPENAI_API_KEY": "x", "OPENAI_BASE_URL": url, "OPENAI_MODEL": MODEL}
    g_argv = [python, "-m", "glasscoder", "--endpoint", url, "--model", MODEL]
    q_name = f"Qwen Code {qwen_version(qwen, q_env)}"
    return [
        Contender("glasscoder", "glasscoder", g_argv, g_env, g_ws, glasscoder_ready),
        Contender("qwen", q_name, [str(qwen)], q_env, q_ws, qwen_ready),
    ]


def qwen_version(qwen: Path, env: dict[str, str]) -> str:
    try:
        out = subprocess.run([str(qwen), "--version"], env=env, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "?"


def measure(runs: int, python: str, qwen: Path) -> list[Contender]:
    with tempfile.TemporaryDirectory() as name, FakeOpenAIServer() as srv:
        tmp = Path(name)
        everyone = contenders(tmp, srv.base_url, python, qwen)
        server = start_tmux_server({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": name})
        try:
            driven = [c for c in everyone if attempt(c, "warm-up")]
            for i in range(runs):
                # Alternate who goes first, so neither always follows the other's exit.
                for c in driven[:: 1 if i % 2 == 0 else -1]:  # a copy: c may leave driven
                    if not attempt(c, f"run{i}"):
                        driven.remove(c)
        finally:
            stop_tmux_server(server)
    return everyone


def attempt(c: Contender, run: str) -> bool:
    """One start of c, its figures noted unless it is the warm-up; False, saying why, if it
    never showed its prompt."""
    try:
        seconds, rss = time_to_prompt(c, f"{run}-{c.key}")
    except NotReady as e:
        shown = [line.rstrip() for line in e.screen.splitlines() if line.strip()][-20:]
        print(f"{c.name} CANNOT BE DRIVEN ({run}), left out: {e}; its screen:", *shown, sep="\n")
        print(flush=True)
        c.times.clear()
        return False
    if run != "warm-up":
        c.times.append(seconds)
        c.rss.append(rss)
    return True


def summary(contenders: list[Contender]) -> dict[str, object]:
    figures: dict[str, object] = {}
    for c in contenders:
        if c.times:
            figures[c.key] = {
                "name": c.name,
                "runs": len(c.times),
                "median_ms": round(statistics.median(c.times) * 1000),
                "min_ms": round(min(c.times) * 1000),
                "rss_mib_median": round(statistics.median(c.rss) / 2**20, 1),
                "times_ms": [round(t * 1000) for t in c.times],  # to the poll's 10 ms
            }
    g, q = contenders
    if g.times and q.times:
        figures["ratio_glasscoder_to_qwen"] = {
            "median": round(statistics.median(g.times) / statistics.median(q.times), 3),
            "min": round(min(g.times) / min(q.times), 3),
            "rss": round(statistics.median(g.rss) / statistics.median(q.rss), 3),
        }
    return figures


def report(figures: dict[str, object], machine: str, load: list[float]) -> None:
    qwen = figures.get("qwen")
    if isinstance(qwen, dict) and qwen["name"] != f"Qwen Code {QWEN_VERSION}":
        print(f"NOTE: {qwen['name']} measured; the figures in bench/README.md are of the pinned "
              f"{QWEN_VERSION}.")  # fmt: skip
    print(f"{machine}; load average {load[0]} before, {load[1]} after")
    print(f"command -> prompt ready to type, {COLS}x{ROWS} tmux pane, runs alternated")
    print(f"{'':<22}{'runs':>6}{'median ms':>12}{'min ms':>10}{'RSS at prompt':>16}")
    for f in figures.values():
        if isinstance(f, dict) and "runs" in f:
            print(f"{f['name']:<22}{f['runs']:>6}{f['median_ms']:>12.0f}{f['min_ms']:>10.0f}"
                  f"{f['rss_mib_median']:>12.0f} MiB")  # fmt: skip
    ratio = figures.get("ratio_glasscoder_to_qwen")
    if isinstance(ratio, dict):
        print(f"{'glasscoder/Qwen Code':<22}{'':>6}{ratio['median']:>12.2f}{ratio['min']:>10.2f}"
              f"{ratio['rss']:>16.2f}")  # fmt: skip
    g = figures.get("glasscoder")
    if isinstance(g, dict) and isinstance(ratio, dict):
        met = g["median_ms"] < 500 and ratio["median"] < 1
        print(f"goal (glasscoder under 500 ms and below Qwen Code): {'met' if met else 'NOT met'}")


def usable(qwen: Path) -> str | None:
    """Why the bench cannot run, or None."""
    if shutil.which("tmux") is None:
        return "tmux is not installed; it is the terminal both programs are driven in."
    if not os.access(qwen, os.X_OK):
        return (
            f"Qwen Code not found at {qwen}. Install it outside the repository with:\n"
            f"  {QWEN_INSTALL}{QWEN_VERSION}\nor pass --qwen PATH to its `qwen` command."
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--qwen", type=Path, default=QWEN_DEFAULT, help="Qwen Code's command")
    parser.add_argument("--python", default=sys.executable, help="the interpreter for glasscoder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    problem = usable(args.qwen)
    if problem:
        print(problem, file=sys.stderr)
        raise SystemExit(2)
    load = [round(os.getloadavg()[0], 2)]
    try:
        everyone = measure(args.runs, args.python, args.qwen)
    except TmuxFailed as e:
        print(f"{e}; no figures.", file=sys.stderr)
        raise SystemExit(2) from None
    figures = summary(everyone)
    load.append(round(os.getloadavg()[0], 2))
    machine = f"{os.cpu_count()} cores, {platform.platform()}"
    meta = {
        "machine": machine,
        "load_average_1min": load,  # before and after: other work on the machine
        "glasscoder_python": args.python,
        "qwen_command": str(args.qwen),
        "qwen_pinned": QWEN_VERSION,
    }
    if args.json:
        print(json.dumps({**meta, **figures}, indent=2))
    else:
        report(figures, machine, load)
    if not all(c.times for c in everyone):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
