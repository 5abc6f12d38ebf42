"""The per-user audit key: 32 random bytes in the data home (``audit.key``, mode 0600).

Threat it answers: without a secret, anyone who can write a log can also recompute its chain
after an edit. Every chain link and every head file is an HMAC under this key, so a forgery needs
the key, which lives in the data home (never in a workspace) and is refused when others can read
it, because then a forgery can no longer be ruled out.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from glasscoder.config import data_home
from glasscoder.errors import UserFacingError

KEY_BYTES = 32


class AuditError(UserFacingError):
    """The audit log cannot be written or read; nothing is sent without it."""


def key_path() -> Path:
    return data_home() / "audit.key"


def audit_key(create: bool = True) -> bytes:
    """The per-user key of every chain and head file; made on first use when create is true."""
    path = key_path()
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            raise AuditError(
                f"There is no audit key at {path}, so no audit log can be checked."
            ) from None
    _create_key(path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise AuditError(f"Cannot read the audit key {path}: {exc.strerror}.") from None
    try:
        _check_key_file(path, os.fstat(fd))
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise AuditError(f"The audit key {path} is damaged: it must hold {KEY_BYTES} bytes.")
    return data


def _check_key_file(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        raise AuditError(f"The audit key {path} is not a file you own; glasscoder will not use it.")
    if st.st_mode & 0o077:
        # Refused, not repaired: whoever read the key could have forged records, and only the
        # person knows whether that can have happened.
        raise AuditError(
            f"The audit key {path} can be read by others (mode {stat.S_IMODE(st.st_mode):o}), "
            f"so records signed with it could be forged. If it stayed private, run "
            f"`chmod 600 {path}`; otherwise move it away (older logs will then fail to verify)."
        )


def _create_key(path: Path) -> None:
    """Write a new key whole, then link it into place: a concurrent creator's key wins intact."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:  # a buffered file writes all of it, or raises
            f.write(secrets.token_bytes(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if the key exists: never replaces one
    except FileExistsError:
        pass
    except OSError as exc:
        raise AuditError(f"Cannot create the audit key {path}: {exc.strerror}.") from None
    finally:
        tmp.unlink(missing_ok=True)
