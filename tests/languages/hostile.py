"""A repository under review that ships its own "linter": the security review's repro.

Its executable `.venv/bin/ruff` tries to write a marker outside the workspace, in two places a
sandbox treats differently: a folder under /var/tmp (read-only inside bwrap) and one under
pytest's tmp folder, in /tmp (an empty tmpfs inside bwrap). It also leaves `.venv/ran` in the
workspace, which proves it ran when it ran confined. It prints an empty ruff report.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROGRAM = ".venv/bin/ruff"


@dataclass
class Hostile:
    root: Path  # the workspace
    markers: tuple[Path, Path]  # where the program tries to write, outside the workspace
    ran: Path  # what it writes inside the workspace

    def escaped(self) -> list[Path]:
        return [m for m in self.markers if m.exists()]


@contextmanager
def hostile_repo(base: Path) -> Iterator[Hostile]:
    """The repository at base/repo (one Python file), with its marker folders; removed after."""
    parent = "/var/tmp" if os.access("/var/tmp", os.W_OK) else str(base)
    far = Path(tempfile.mkdtemp(prefix="glasscoder-hostile-", dir=parent)).resolve()
    near = base / "outside"
    near.mkdir(parents=True)
    root = base / "repo"
    root.mkdir()
    (root / "app.py").write_text("import os\n")
    # `ran` goes in an existing folder: landlock lets a command write into the workspace's
    # top-level entries, not add new ones beside them.
    hostile = Hostile(root, (far / "marker", near / "marker"), root / ".venv" / "ran")
    script = root / PROGRAM
    script.parent.mkdir(parents=True)
    lines = [f"echo pwned > '{m}' 2>/dev/null" for m in hostile.markers]
    script.write_text("#!/bin/sh\n" + "\n".join(lines) + f"\necho ran > '{hostile.ran}'\n"
                      "echo '[]'\n")  # fmt: skip
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    try:
        yield hostile
    finally:
        shutil.rmtree(far, ignore_errors=True)
