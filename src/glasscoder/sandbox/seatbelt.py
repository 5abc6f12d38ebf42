"""The ``seatbelt`` sandbox for macOS: each command under ``sandbox-exec -p PROFILE``.

The profile is generated per command (``profile``). Seatbelt applies the last rule that
matches, so the order below is the policy: everything allowed, then no network at all (TCP,
UDP and Unix sockets alike), no writes anywhere, then writes allowed in the workspace, a
private temp folder and the harmless devices, then the protected workspace entries (``.git``,
``.envrc``, ...) and glasscoder's config made read-only again, and known credential folders
and glasscoder's data made unreadable. Reads elsewhere stay allowed: a toolchain needs them.

Seatbelt matches real paths (/tmp is /private/tmp), so every path in the profile is canonical;
a workspace reached through a symlink, or a protected entry that is one, is refused as in bwrap.
A path with a control character is refused too rather than escaped.

Not tested on a real Mac: this project's machines are Linux. The profile text is unit-tested;
the backend only runs on darwin. sandbox-exec is deprecated by Apple but still shipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from glasscoder.sandbox import rlimits
from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.bwrap import (
    PROTECTED,
    REFUSED_EXIT,
    BindRefused,
    checked_workspace,
    protected_entries,
)
from glasscoder.sandbox.paths import canonical, home_dirs, inside
from glasscoder.sandbox.supervise import TERM_GRACE, run_supervised

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
# Beneath the home: folders and files that hold credentials, unreadable inside.
CREDENTIALS = (".ssh", ".aws", ".azure", ".gnupg", ".kube", ".docker", ".config/gcloud",
               ".netrc", ".npmrc", ".pypirc", ".git-credentials")  # fmt: skip
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/tty", "/dev/dtracehelper")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote(path: str) -> str:
    """A path as an SBPL string literal; BindRefused for one with a control character."""
    if _CONTROL.search(path):
        raise BindRefused(f"the path {path!r} holds a control character; rename it")
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(
    workspace: str,
    tmpdir: str,
    homes: Iterable[str] = (),
    hidden: Iterable[str] = (),
    read_only: Iterable[str] = (),
) -> str:
    """The SBPL profile for one command; ``workspace`` and ``tmpdir`` are canonical."""
    kept = [os.path.join(workspace, name) for name in PROTECTED]
    kept += [p for p in read_only if inside(p, workspace)]
    secrets = [os.path.join(h, name) for h in homes for name in CREDENTIALS] + list(hidden)
    lines = [
        "(version 1)",
        "(allow default)",
        "(deny network*)",
        "(deny file-write*)",
        _rule("allow file-write*", "subpath", [workspace, tmpdir]),
        _rule("allow file-write*", "literal", WRITABLE_DEVICES),
        _rule("allow file-write*", "subpath", ["/dev/fd"]),
        _rule("deny file-write*", "subpath", kept),
        _rule("deny file-read* file-write*", "subpath", secrets),
    ]
    return "\n".join(line for line in lines if line) + "\n"


def _rule(action: str, kind: str, paths: Iterable[str]) -> str:
    filters = " ".join(f"({kind} {quote(p)})" for p in dict.fromkeys(paths))
    return f"({action} {filters})" if filters else ""


class SeatbeltSandbox:
    name = "seatbelt"

    def __init__(
        self,
        hidden: Iterable[Path] = (),
        read_only: Iterable[Path] = (),
        term_grace: float = TERM_GRACE,
        sandbox_exec: str = SANDBOX_EXEC,
    ) -> None:
        self.hidden = [canonical(p) for p in hidden]
        self.read_only = [canonical(p) for p in read_only]
        self.term_grace = term_grace
        self.sandbox_exec = sandbox_exec

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        if sys.platform != "darwin":
            return Result(REFUSED_EXIT, "glasscoder sandbox refused: seatbelt needs macOS\n")
        tmpdir = canonical(tempfile.mkdtemp(prefix="glasscoder-tmp-"))
        try:
            homes = home_dirs(env)
            root = checked_workspace(cwd, homes)
            protected_entries(root)  # BindRefused when one is a symlink
            text = profile(root, tmpdir, homes, self.hidden, self.read_only)
        except BindRefused as exc:
            shutil.rmtree(tmpdir, ignore_errors=True)
            return Result(REFUSED_EXIT, f"glasscoder sandbox refused: {exc}\n")
        try:
            return run_supervised(
                [self.sandbox_exec, "-p", text, *argv],
                Path(root),
                {**env, "TMPDIR": tmpdir},
                limits,
                self.term_grace,
                preexec=_best_effort(rlimits.setter(limits)),
            )
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _best_effort(set_limits: Callable[[], None]) -> Callable[[], None]:
    # macOS refuses some limits Linux takes (RLIMIT_AS above the current use): run regardless.
    def preexec() -> None:
        with contextlib.suppress(OSError, ValueError):
            set_limits()

    return preexec


def protected_lines() -> list[str]:
    """What the seatbelt profile is meant to protect, for `sandbox check`."""
    return [
        "writes: only in the workspace, a private TMPDIR and /dev/null-like devices; "
        "read-only there: " + ", ".join(PROTECTED) + " (also when missing) and glasscoder's "
        "config",
        "secrets: " + ", ".join("~/" + c for c in CREDENTIALS) + " and glasscoder's sessions "
        "and audit key are unreadable; only allow-listed environment variables",
        "network: none (TCP, UDP and Unix sockets)",
    ]


def degraded_lines() -> list[str]:
    """What seatbelt does not give that bwrap does on Linux."""
    return [
        "untested on a real Mac: the profile is generated and unit-tested on Linux only",
        "reads: everything else your user can read stays readable",
        "processes: host processes are visible and children that call setsid() can outlive "
        "the command; no process-count limit",
        "no seccomp: only the profile's rules apply",
    ]
