"""What one AuditLog.append costs, and whether that grows with the number of other sessions.

Each append writes a record with a 2 KB body and fsyncs it, as the egress path does twice a
model turn. Two logs are appended to in turn, in the same run:

- chain only: the keyed hash chain without an index (``index=None``), the anchor;
- chain + head: the same plus the log's keyed head file (the default for session logs), which
  is what detects a cut tail, an edited last record or a deleted log.

Both are measured with 0, 1,000 and 10,000 other logs already in the index. The data home is a
fresh temporary folder (XDG_DATA_HOME), on the file system of --dir (default: the temp dir).

Run: .venv/bin/python bench/audit_append.py [--appends 200] [--others 0,1000,10000] [--dir D]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from glasscoder.guard.audit import AuditLog, audit_key, heads_dir
from glasscoder.guard.audit_index import IndexEntry, encode_head, slot_for

BODY = {"body": "x" * 2048}


def add_other_logs(home: Path, start: int, stop: int) -> None:
    """Head files for sessions start..stop-1 (setup only: written without fsync, no logs)."""
    key = audit_key()
    heads_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    for i in range(start, stop):
        log = home / "sessions" / f"20250101-000000-{i:06x}" / "audit.jsonl"
        slot = slot_for(log, heads_dir())
        assert slot is not None
        slot.file.write_bytes(encode_head(key, slot.name, IndexEntry(41, secrets.token_hex(32))))


def time_appends(logs: list[AuditLog], appends: int) -> list[list[float]]:
    """Seconds per append for each log, the logs taking turns so load hits both alike."""
    times: list[list[float]] = [[] for _ in logs]
    for _ in range(appends):
        for log, kept in zip(logs, times, strict=True):
            start = time.perf_counter()
            log.append("request", BODY)
            kept.append(time.perf_counter() - start)
    return times


def measure(home: Path, others: int, appends: int) -> tuple[float, float]:
    session = home / "sessions" / f"bench-{others}"
    plain = AuditLog(session / "chain-only.jsonl", index=None)
    headed = AuditLog(session / "audit.jsonl")
    plain_t, headed_t = time_appends([plain, headed], appends)
    return statistics.median(plain_t), statistics.median(headed_t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--others", default="0,1000,10000")
    parser.add_argument("--dir", default=None, help="folder for the temporary data home")
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.others.split(","))
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="audit-bench-") as tmp:
        os.environ["XDG_DATA_HOME"] = tmp
        home = Path(tmp) / "glasscoder"
        print(f"{args.appends} appends of a 2 KB record per figure, fsynced; medians")
        print(f"{'other logs':>10}  {'chain only':>10}  {'chain + head':>12}  {'head adds':>9}")
        have = 0
        for others in counts:
            add_other_logs(home, have, others)
            have = max(have, others)
            os.sync()  # else the measured fsyncs would also flush the setup's writes
            plain, headed = measure(home, others, args.appends)
            print(f"{others:>10,}  {plain * 1e3:>7.2f} ms  {headed * 1e3:>9.2f} ms  "
                  f"{(headed - plain) * 1e3:>6.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
