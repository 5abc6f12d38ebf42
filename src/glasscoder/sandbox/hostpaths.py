"""Trusted host programs and files: the host never executes, loads or sources a file that a
sandboxed command could have written.

What a sandboxed command can write that outlives it is the workspace and the session's build
caches (caches.py; its /tmp and home are private and thrown away; the landlock backend's
TMPDIR is deleted after the command). A command can reach the caches from the workspace
through a link it makes there, so two rules keep the host from running anything written:

* a program glasscoder starts on the host (git for the changed files and ``review --diff``, rg
  for grep, bwrap itself, an analyzer run unsandboxed) is found by ``find``: PATH without its
  folders reached through the workspace (an activated ``.venv/bin`` in it, or a link there),
  and refused when its path is reached through the workspace (a link from elsewhere pointing
  in);
* glasscoder's own files, which the host imports or runs later (its package, every sys.path
  entry, the interpreter and its prefix with the ripgrep wheel's ``rg``), are mounted
  read-only inside the sandbox when they lie inside the workspace (``read_only_inside``):
  the README's development layout puts a ``.venv`` in the checkout. When this process
  reaches one through a symlink in the workspace, the link itself stays writable, so the
  backends refuse to run commands (``linked_inside``).

A sys.path entry that is the workspace itself cannot be made read-only without the whole
workspace; ``python -m glasscoder`` adds the working folder that way, so ``__main__`` drops it
before anything else is imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from glasscoder.sandbox.paths import canonical, inside, reached_through


def trusted_path(root: str | Path, path: str | None = None) -> str:
    """PATH (default: this process's) without relative entries (they resolve against a working
    folder that may be the workspace) and without entries reached through root: inside it,
    or through a link in it (which may lead to the session's build cache, also written by
    commands). A root of / (no workspace is ever /: the backends refuse it) removes nothing."""
    value = os.environ.get("PATH", os.defpath) if path is None else path
    base = canonical(root)
    kept = [e for e in value.split(os.pathsep) if os.path.isabs(e)]
    return os.pathsep.join(e for e in kept if base == "/" or not reached_through(e, base))


def find(program: str, root: str | Path, path: str | None = None) -> str | None:
    """The program to run on the host for a session in ``root``, or None: found on
    ``trusted_path`` and refused when it is reached through root (a link into it)."""
    found = shutil.which(program, path=trusted_path(root, path))
    return found if found is not None and runnable_outside(found, root) else None


def runnable_outside(program: str, root: str | Path) -> bool:
    """Whether an absolute program path is safe to run on the host for root: not reached
    through it (see trusted_path)."""
    base = canonical(root)
    return os.path.isabs(program) and (base == "/" or not reached_through(program, base))


def own_paths() -> tuple[str, ...]:
    """glasscoder's own files as canonical existing paths: its package, every sys.path entry,
    the interpreter's folder (a venv's bin, with rg) and prefixes."""
    found = [canonical(c) for c in _own_paths_as_used()]
    return tuple(p for p in dict.fromkeys(found) if os.path.exists(p))


def _own_paths_as_used() -> list[str]:
    """The same paths as this process uses them, links not resolved."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [package, *sys.path, sys.prefix, sys.exec_prefix, sys.base_prefix,
                  os.path.dirname(sys.executable), sysconfig.get_path("scripts")]  # fmt: skip
    return [c for c in candidates if c and os.path.isabs(c)]


def linked_inside(root: str) -> str:
    """An own path this process reaches through a symlink inside root ("" when none). The
    folder it leads to is made read-only, but a command could point the link elsewhere, and
    the host would import what it finds there next: the backends refuse to run then."""
    for path in _own_paths_as_used():
        current = "/"
        for part in [p for p in os.path.normpath(path).split("/") if p]:
            current = os.path.join(current, part)
            if inside(current, root) and current != root and os.path.islink(current):
                return path
            current = canonical(current)
    return ""


def read_only_inside(root: str) -> list[str]:
    """The own paths strictly inside root, outermost first, none inside another."""
    within = sorted(p for p in own_paths() if inside(p, root) and p != root)
    return [p for i, p in enumerate(within) if not any(inside(p, q) for q in within[:i])]
