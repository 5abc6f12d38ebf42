"""Per-command cost of the network allow-list: bwrap with an empty list against bwrap with
hosts listed (the launcher, its bridge and the seccomp program loaded by the launcher), one
`true` each, interleaved in one run; and one plain-http GET through the proxy from inside the
sandbox (curl to a server on 127.0.0.1, listed by address) against the same GET from the host.
Run: .venv/bin/python bench/netproxy.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import bwrap_status, make_bwrap
from glasscoder.sandbox.env import minimal_env
from glasscoder.sandbox.netproxy import NetProxy
from glasscoder.sandbox.netrules import AllowList


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def timed(run: object) -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    if not bwrap_status().ok or shutil.which("curl") is None:
        sys.exit(f"needs bwrap and curl: {bwrap_status().problem or 'curl missing'}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    env, plain, bridged = minimal_env(), make_bwrap(), make_bwrap()
    entry = f"127.0.0.1:{server.server_address[1]}"
    with (
        tempfile.TemporaryDirectory() as scratch,
        NetProxy(AllowList.parse([entry]), print_nothing) as proxy,
    ):
        cwd = Path(scratch).resolve()
        bridged.net_socket = str(proxy.socket_path)
        cases = {
            "bwrap, empty list: true": lambda: plain.run(["true"], cwd, env, Limits()),
            "bwrap, hosts listed: true": lambda: bridged.run(["true"], cwd, env, Limits()),
            "host: curl GET": lambda: subprocess.run(["curl", "-s", url], capture_output=True),
            "bwrap, hosts listed: curl GET via proxy": lambda: bridged.run(
                ["curl", "-s", url], cwd, env, Limits()
            ),
        }
        for run in cases.values():  # warm-up
            run()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, run in cases.items():
                times[name].append(timed(run))
    server.shutdown()
    for name, values in times.items():
        print(f"{name:42} {statistics.median(values) * 1000:7.1f} ms")


def print_nothing(record: dict[str, object]) -> None:
    pass  # the decisions are not what is measured


if __name__ == "__main__":
    main()
