"""Start-up cost: `glasscoder --help` and the time from the command to the first model request.

Each figure is the median of N runs, printed as a ratio to `python3 -c pass` measured in the
same run on the same machine. The model is a real HTTP server on 127.0.0.1 that notes when the
first request arrives and answers at once.
Run: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.openai_server import FakeOpenAIServer


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


class ArrivalServer(FakeOpenAIServer):
    """Notes the moment the first request of a run is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.arrival = 0.0

    def record(self, request) -> None:  # type: ignore[no-untyped-def]
        if not self.arrived.is_set():
            self.arrival = time.perf_counter()
            self.arrived.set()
        super().record(request)


def time_to_first_request(srv: ArrivalServer, cwd: Path, env: dict[str, str]) -> float:
    srv.arrived.clear()
    srv.add("Done.")
    argv = [sys.executable, "-m", "glasscoder", "-p", "Say hello.", "--endpoint", srv.base_url,
            "--output-format", "json"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not srv.arrived.wait(5):
        raise SystemExit("glasscoder never reached the server")
    return srv.arrival - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data",
               "XDG_CONFIG_HOME": f"{tmp}/config"}  # fmt: skip
        (cwd / "README.md").write_text("hello\n")
        with ArrivalServer() as srv:
            time_to_first_request(srv, cwd, env)  # warm the file cache and bytecode
            anchor, help_, first = [], [], []
            for _ in range(runs):
                anchor.append(timed(["python3", "-c", "pass"], cwd, env))
                help_.append(timed([sys.executable, "-m", "glasscoder", "--help"], cwd, env))
                first.append(time_to_first_request(srv, cwd, env))
    base = statistics.median(anchor)
    print(f"python3 -c pass (anchor): {base * 1000:.0f} ms (median of {runs})")
    for name, values in (("glasscoder --help", help_), ("command -> first model request", first)):
        median = statistics.median(values)
        print(f"{name}: {median * 1000:.0f} ms = {median / base:.1f}x the anchor")


if __name__ == "__main__":
    main()
