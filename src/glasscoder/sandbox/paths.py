"""Path facts every sandbox backend needs: canonical paths, homes, containment."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path


def canonical(path: str | Path) -> str:
    return os.path.realpath(os.path.abspath(path))


def home_dirs(env: Mapping[str, str]) -> list[str]:
    """The host's home and the one the command is told about, canonical, never /."""
    candidates = [str(Path.home()), env.get("HOME", "")]
    found = [canonical(h) for h in candidates if h and os.path.isabs(h)]
    return [h for h in dict.fromkeys(found) if h != "/"]


def inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def under_any(path: str, parents: Iterable[str]) -> bool:
    return any(inside(path, p) for p in parents)
