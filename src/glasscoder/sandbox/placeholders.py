"""Protected workspace paths that do not exist yet, kept from being created by a command.

A command must not create ``.git`` (with a ``core.fsmonitor`` or a hook the person's next
``git status`` runs), ``.envrc``, ``.vscode/``, glasscoder's own config below the workspace, and
so on, any more than it may change them. The kernel offers no way to refuse one name in a
directory the command may otherwise write: a read-only mount needs something at that name,
and bwrap, asked to mount over a missing path inside the workspace's bind, creates it on the
host and leaves it there after the command (an empty ``.git`` folder, an empty ``.envrc``).
The other ways were weighed and refused: a read-only top folder with its entries bound one by
one breaks ``rm``, ``mv`` and every atomic rewrite (``sed -i``, ``npm install``) of a
top-level entry, since a mount point cannot be unlinked or renamed over; an overlay would
write whiteouts and a work folder into the person's filesystem; and checking after the
command leaves a window in which a shell prompt's ``git status`` on the host runs the planted
fsmonitor.

So glasscoder makes the placeholder itself, before the command, and removes it after:

* a placeholder is an empty folder of mode 555 (an empty file of mode 444 for a file's name),
  mounted read-only inside the sandbox: the command can neither write into it, nor remove,
  rename or replace it (a mount point), nor change its mode (read-only mount);
* it exists on the host only while a command runs. Git skips an empty ``.git`` folder when
  looking for a repository (inside the sandbox too, so git still finds a repository above
  the workspace), and an empty ``.vscode`` or ``.envrc`` does nothing;
* commands on one workspace may overlap (the review runs analyzers in parallel, two sessions
  may share a folder), and removing a placeholder on the host would lift the mount in every
  other command using it. Each command holds a shared ``flock`` on the workspace folder
  itself (no lock file to leave behind) while it runs; placeholders are removed by whichever
  command ends last, once it gets the lock exclusively;
* only an entry that is still a placeholder (empty, of the placeholder's mode or of mode 0,
  which it has for a moment after it is made) is removed.
  If glasscoder is killed during a command, the placeholders it made stay until the next
  command on that workspace ends, which removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterable, Iterator

from glasscoder.sandbox.paths import inside

DIR_MODE, FILE_MODE = 0o555, 0o444


def missing_top(path: str, root: str) -> str | None:
    """The outermost path from ``root`` down to ``path`` (path inside root) that is missing
    or a placeholder already (one an overlapping command made: this command takes it on too),
    None when path exists. A placeholder there stops everything below it being made."""
    rel = os.path.relpath(path, root)
    current = root
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        if not os.path.lexists(current) or is_placeholder(current):
            return current
    return None


def is_placeholder(path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    # Mode 0 too: another command may be between creating one and setting its mode.
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode):
        return mode in (0, FILE_MODE) and info.st_size == 0
    if stat.S_ISDIR(info.st_mode) and mode in (0, DIR_MODE):
        try:
            return not os.listdir(path)
        except PermissionError:  # mode 0 to an ordinary user: no subfolder at least, and
            return info.st_nlink == 2  # rmdir refuses a folder that is not empty anyway
        except OSError:
            return False
    return False


def plan(root: str, protected: Iterable[str], files: Iterable[str] = ()) -> list[tuple[str, bool]]:
    """(placeholder path, is a file) for every protected path inside root that is missing.
    ``files``: the protected paths that are files (``.envrc``, a config file)."""
    files = set(files)
    found: dict[str, bool] = {}
    for path in protected:
        if not inside(path, root) or path == root:
            continue
        top = missing_top(path, root)
        if top is not None:
            found[top] = found.get(top, False) or (top == path and path in files)
    return sorted(found.items())


@contextlib.contextmanager
def held(root: str, wanted: list[tuple[str, bool]]) -> Iterator[list[str]]:
    """Placeholders for ``wanted`` (see ``plan``) that exist while the block runs: yields the
    paths that are placeholders now (made here, or left by an overlapping command)."""
    lock = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        made = [path for path, is_file in wanted if _make(path, is_file)]
        try:
            yield made
        finally:
            _remove_if_last(lock, made)
    finally:
        os.close(lock)  # also drops the lock


def _make(path: str, is_file: bool) -> bool:
    """True when path is a placeholder now; False when something else is there (made by
    someone since planning: it is an ordinary entry then, mounted read-only by the backend)
    or it cannot be made (a folder we may not write to, where a command may not either)."""
    try:
        if is_file:
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
        else:
            os.mkdir(path, 0)
        os.chmod(path, FILE_MODE if is_file else DIR_MODE)  # not left to the umask
    except FileExistsError:
        return is_placeholder(path)
    except OSError:
        return False
    return True


def _remove_if_last(lock: int, made: list[str]) -> None:
    """Give up the shared lock; if no other command holds one, remove the placeholders."""
    fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another command still runs here; the last one to end removes them
    for path in made:
        if is_placeholder(path):
            with contextlib.suppress(OSError):
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
