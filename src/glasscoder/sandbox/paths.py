"""Path facts every sandbox backend needs: canonical paths, homes, containment."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable, Mapping
from pathlib import Path

MAX_LINKS = 40  # the kernel's own limit when it follows a path


def canonical(path: str | Path) -> str:
    return os.path.realpath(os.path.abspath(path))


def home_dirs(env: Mapping[str, str]) -> list[str]:
    """The homes to hide, canonical, never /: this process's $HOME, the one the command is
    told about, and the account's home in the password database. They differ under CI,
    ``sudo -E`` and test harnesses, and the passwd home is where the credentials really are
    (.npmrc, .config, .cargo)."""
    real = passwd_home()  # often a placeholder such as /nonexistent: nothing to hide then
    candidates = [str(Path.home()), env.get("HOME", ""), real if os.path.isdir(real) else ""]
    found = [canonical(h) for h in candidates if h and os.path.isabs(h)]
    return [h for h in dict.fromkeys(found) if h != "/"]


def inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def reached_through(path: str, root: str) -> bool:
    """Whether resolving the absolute path visits root on the way, link by link. A command
    may have made any link in the workspace (its `.venv/bin` replaced by a link to a folder
    outside, such as its own build cache), so where such a path ends up is not the person's
    choice, whatever its canonical path says. Too many links count as yes."""
    pending, current, links = [p for p in path.split("/") if p], "/", 0
    while pending:
        part = pending.pop(0)
        if part in (".", ".."):
            current = os.path.dirname(current) if part == ".." else current
            continue
        step = os.path.join(current, part)
        if inside(step, root):
            return True
        if not os.path.islink(step):
            current = step
            continue
        links += 1
        if links > MAX_LINKS:
            return True
        target = os.readlink(step)
        pending = [p for p in target.split("/") if p] + pending
        current = "/" if target.startswith("/") else current
    return False


def under_any(path: str, parents: Iterable[str]) -> bool:
    return any(inside(path, p) for p in parents)


def passwd_home() -> str:
    """The account's home as the password database has it, "" when it has none."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir or ""
    except KeyError:  # a uid without an entry (some containers)
        return ""
