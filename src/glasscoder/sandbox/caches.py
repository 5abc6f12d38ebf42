"""Private writable caches for builds: one folder per sandbox (so per session), never the home's.

A build writes caches: Go's build and module caches, cargo's registry (under CARGO_HOME) and a
target folder set outside the project, npm's and pip's caches, whatever else follows
XDG_CACHE_HOME. Inside the sandbox the home is hidden and the toolchains are read-only, so each
command is pointed at a folder of its own session instead: made on first use (mode 0700, in
the host's temp folder), kept across the session's commands so a second build is quick, removed
when the sandbox object goes away or the process exits. Nothing on the host reads it back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping

from glasscoder.sandbox.paths import canonical, inside

# (variable, sub-folder): always pointed at the private folder, unless set inside the workspace
CACHE_VARIABLES = (
    ("GOCACHE", "go-build"), ("GOMODCACHE", "go-mod"), ("CARGO_HOME", "cargo"),
    ("npm_config_cache", "npm"), ("PIP_CACHE_DIR", "pip"), ("UV_CACHE_DIR", "uv"),
    ("XDG_CACHE_HOME", "xdg-cache"),
)  # fmt: skip
# Set only when the command's environment sets them outside the workspace.
MOVED_WHEN_OUTSIDE = (("CARGO_TARGET_DIR", "cargo-target"),)


class BuildCaches:
    """The session's cache folder and the variables that point a command at it."""

    def __init__(self) -> None:
        self._folder = ""
        self._lock = threading.Lock()  # the analyzers run several commands at once

    def folder(self) -> str:
        """The folder, made on first use."""
        with self._lock:
            if not self._folder:
                made = canonical(tempfile.mkdtemp(prefix="glasscoder-cache-"))
                weakref.finalize(self, shutil.rmtree, made, True)
                self._folder = made
            return self._folder

    def variables(self, env: Mapping[str, str], workspace: str) -> dict[str, str]:
        """The overrides for a command run in workspace with env."""
        base = self.folder()
        out = {}
        for name, sub in CACHE_VARIABLES:
            if not _inside_workspace(env.get(name, ""), workspace):
                out[name] = os.path.join(base, sub)
        for name, sub in MOVED_WHEN_OUTSIDE:
            value = env.get(name, "")
            if value and not _inside_workspace(value, workspace):
                out[name] = os.path.join(base, sub)
        for path in out.values():
            _make_folder(path)
        return out

    @staticmethod
    def lines() -> list[str]:
        """What `sandbox check` says about them."""
        names = ", ".join(name for name, _ in CACHE_VARIABLES)
        return [f"build caches: {names} (and CARGO_TARGET_DIR when set outside the "
                "workspace) point into a private folder per session, writable, removed at "
                "its end"]  # fmt: skip


def _make_folder(path: str) -> None:
    """The sub-folder, made when missing. Commands write the cache folder: whatever one left at
    that name (a link to a missing path) is left alone, never followed nor failed on."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)


def _inside_workspace(value: str, workspace: str) -> bool:
    return bool(value) and os.path.isabs(value) and inside(canonical(value), workspace)
