"""Which backend runs commands: the ``sandbox`` setting against what this machine has.

``auto`` (the default) is bwrap when bwrap works here; else the ``landlock`` fallback when the
kernel has Landlock (reported as degraded: it protects less); else nothing: commands are
refused and the person is told what is missing and how to fix it. On macOS it is ``seatbelt``
(sandbox-exec). ``bwrap``, ``landlock`` and ``seatbelt`` insist on that backend (an error when
it does not work). ``none`` runs commands unconfined, only by the person's explicit choice;
a repository's config cannot choose it (config.TRUSTED_ONLY). Whether bwrap works is probed
once per process by running a trivial command under the full profile.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from glasscoder.errors import UsageError
from glasscoder.ignore import SECRET_FILES
from glasscoder.sandbox.base import Limits, Sandbox

CHOICES = ("auto", "bwrap", "landlock", "seatbelt", "none")
INSTALL_FIX = "apt-get install bubblewrap (as root or with sudo)"


@dataclass
class Status:
    """Whether bwrap works here; when not, what is missing and the fix."""

    ok: bool
    problem: str = ""
    fix: str = ""


@dataclass
class Choice:
    sandbox: Sandbox | None  # None: commands are refused
    name: str  # "bwrap", "none" or "disabled"
    problem: str = ""  # when disabled: what is missing, and the fix
    degraded: str = ""  # when a fallback was taken: why, for the run's notice


def choose(setting: str, deny: Sequence[str] = SECRET_FILES, root: Path | None = None) -> Choice:
    """The backend for `setting`; `deny` is the workspace's deny-list, which bwrap masks;
    `root` the workspace (default: the working folder), where bwrap is never taken from."""
    if setting == "none":
        from glasscoder.sandbox.none import NoSandbox

        return Choice(NoSandbox(), "none")
    if setting not in CHOICES:
        raise UsageError(f"Unknown sandbox '{setting}'; choose one of {', '.join(CHOICES)}.")
    if setting == "seatbelt" or (setting == "auto" and sys.platform == "darwin"):
        return _seatbelt()
    if setting == "landlock":
        return _landlock(required=True)
    status = bwrap_status(root)
    if status.ok:
        return Choice(make_bwrap(deny, root), "bwrap")
    problem = f"{status.problem}; fix: {status.fix}"
    if setting == "bwrap":
        raise UsageError(f"The bwrap sandbox is not available: {problem}.")
    fallback = _landlock(required=False)
    if fallback.sandbox is not None:
        fallback.degraded = (
            f"commands run under the landlock fallback, which protects less than bwrap "
            f"(see glasscoder sandbox check): {problem}"
        )
        return fallback
    return Choice(None, "disabled", f"{problem}; the landlock fallback: {fallback.problem}")


def _landlock(required: bool) -> Choice:
    status = landlock_status()
    if status.ok:
        return Choice(make_landlock(), "landlock")
    if required:
        raise UsageError(f"The landlock sandbox is not available: {status.problem}.")
    return Choice(None, "disabled", f"{status.problem}")


def _seatbelt() -> Choice:
    from glasscoder.sandbox.seatbelt import SANDBOX_EXEC, SeatbeltSandbox

    if sys.platform != "darwin" or not os.access(SANDBOX_EXEC, os.X_OK):
        raise UsageError(f"The seatbelt sandbox needs macOS with {SANDBOX_EXEC}; this is "
                         f"{sys.platform}.")  # fmt: skip
    from glasscoder.config import config_home, data_home, user_config_path

    return Choice(SeatbeltSandbox([data_home()], [config_home(), user_config_path()]), "seatbelt")


def make_landlock() -> Sandbox:
    from glasscoder.config import config_home, data_home, user_config_path
    from glasscoder.sandbox.landlock import LandlockSandbox

    return LandlockSandbox([data_home()], [config_home(), user_config_path()])


@functools.cache
def landlock_status() -> Status:
    """Whether the landlock fallback works here: the kernel's ABI, seccomp, then a probe."""
    if not sys.platform.startswith("linux"):
        return Status(False, f"Landlock needs Linux; this is {sys.platform}")
    from glasscoder.sandbox.landlock import abi_version, extra_program
    from glasscoder.sandbox.seccomp_filter import SeccompUnavailable, compiled

    if abi_version() < 1:
        return Status(False, "Landlock is not enabled in this kernel (5.13 or later, with "
                      "landlock in the lsm= boot parameter)")  # fmt: skip
    try:
        compiled(), extra_program(os.geteuid() == 0)
    except SeccompUnavailable as exc:
        return Status(False, f"no seccomp filter: {exc}", "reinstall glasscoder's dependencies")
    with tempfile.TemporaryDirectory(prefix="glasscoder-probe-") as scratch:
        root = Path(scratch).resolve()
        result = make_landlock().run(["true"], root, {"PATH": "/usr/bin:/bin"}, Limits(timeout=10))
    if result.exit_code != 0:
        detail = " ".join(result.output.split())[:300] or f"exit code {result.exit_code}"
        return Status(False, f"the Landlock sandbox does not start here ({detail})")
    return Status(True)


def make_bwrap(deny: Sequence[str] = SECRET_FILES, root: Path | None = None) -> Sandbox:
    from glasscoder.config import config_home, data_home, user_config_path
    from glasscoder.sandbox.bwrap import BwrapSandbox

    bwrap = find_bwrap(root)
    assert bwrap is not None  # bwrap_status() found it
    return BwrapSandbox(bwrap, [data_home()], [config_home(), user_config_path()], deny=deny)


def find_bwrap(root: Path | None = None) -> str | None:
    """bwrap on PATH outside the workspace ``root`` and the working folder (often another
    workspace), which commands can write: even the probe must not run one planted there.
    BwrapSandbox also refuses to start one inside the workspace it is given (hostpaths)."""
    from glasscoder.sandbox.hostpaths import find, trusted_path

    return find("bwrap", root or Path.cwd(), trusted_path(Path.cwd()))


_PROBE_LOCK = threading.Lock()


def bwrap_status(root: Path | None = None) -> Status:
    """Whether bwrap works here, probed once per process and workspace (the CLI starts the
    probe early, in a thread, so it overlaps the rest of start-up; the lock makes the main
    thread wait for that probe rather than run a second one)."""
    from glasscoder.sandbox.paths import canonical

    with _PROBE_LOCK:
        return _bwrap_status(canonical(root or Path.cwd()))


def forget_probe() -> None:
    """Probe again on the next call (tests change what the machine offers)."""
    with _PROBE_LOCK:
        _bwrap_status.cache_clear()


@functools.cache
def _bwrap_status(root: str) -> Status:
    if not sys.platform.startswith("linux"):
        return Status(False, f"bwrap needs Linux; this is {sys.platform}", "--sandbox none, "
                      "at your own risk, until a sandbox for this system exists")  # fmt: skip
    if find_bwrap(Path(root)) is None:
        return Status(False, "bubblewrap (bwrap) is not installed", INSTALL_FIX)
    from glasscoder.sandbox.seccomp_filter import SeccompUnavailable, compiled

    try:
        compiled()
    except SeccompUnavailable as exc:
        return Status(False, f"no seccomp filter: {exc}", "reinstall glasscoder's dependencies")
    return _probe(Path(root))


def _probe(workspace: Path) -> Status:
    """Run `true` under the full profile in a scratch folder, with the bwrap found for
    workspace."""
    with tempfile.TemporaryDirectory(prefix="glasscoder-probe-") as scratch:
        root = Path(scratch).resolve()
        result = make_bwrap(root=workspace).probe(root)
    if result.exit_code == 0:
        return Status(True)
    detail = " ".join(result.output.split())[:300] or f"exit code {result.exit_code}"
    return Status(
        False,
        f"bwrap cannot create its namespaces here ({detail})",
        "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on "
        "Ubuntu kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap)",
    )
