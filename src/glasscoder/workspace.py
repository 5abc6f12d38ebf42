"""The workspace: the one directory the model's file tools may touch.

Every model-given path goes through two steps. `rel()` resolves it (symlinks included) and
refuses anything whose real location is outside the root. The use then goes through
`BeneathOpener`, which refuses to follow any symlink, so a component swapped for a symlink
after the check makes the operation fail instead of escaping (see beneath.py).

Ignored files (see ignore.py) are hidden: reads, writes and listings refuse or skip them.
So are glasscoder's own configuration and session folders when the workspace contains them
(say it is the home folder): a model that could write them could turn off its own limits for
the next session, or rewrite the transcripts and audit logs of this one.

A deny-listed file may have a second name (a hard link) that no rule matches; reading it by
that name is refused too. Only a file with more than one link can be such a name, so only
then are the deny-listed files' identities looked up (denied.scan), afresh, or once per
`frozen_rules` block.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import re
import secrets
import stat
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

from glasscoder import denied, ignore
from glasscoder.beneath import O_CLOEXEC, O_NOFOLLOW, BeneathOpener
from glasscoder.config import own_paths

MAX_READ_BYTES = 20 * 1024 * 1024
_MAX_RULE_FILE_BYTES = 1024 * 1024
_MAX_SYMLINKS = 40  # the kernel's own limit for one lookup
# The kernel's PATH_MAX: no longer path can be opened, and resolving one component by
# component would take time quadratic in its length.
_CONTROL_IN_PATH = re.compile(r"[\x01-\x1f\x7f]")
_MAX_PATH = 4096
_BINARY_SNIFF_BYTES = 8192
# O_NONBLOCK: opening a FIFO planted in the workspace must not hang the agent.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC

_DIR, _FILE, _LINK, _OTHER = "dir", "file", "link", "other"
PROJECT_CONFIG_DIR = ".glasscoder"


class WorkspaceError(Exception):
    """A path problem, explained in one sentence meant for the model."""


class Workspace:
    def __init__(
        self,
        root: Path | str,
        extra_ignores: Sequence[str] = (),
        *,
        use_openat2: bool | None = None,  # None: use it when the kernel has it
        private: Sequence[Path] | None = None,  # hidden outright; None: glasscoder's own paths
        deny: Sequence[str] = ignore.SECRET_FILES,  # files that hold credentials
    ) -> None:
        given = os.path.abspath(os.fspath(root))
        if not os.path.isdir(given):
            raise WorkspaceError(f"workspace root '{root}' is not a directory")
        self.root = Path(given).resolve(strict=True)
        # Absolute model paths may use the resolved root or the (maybe symlinked) given one.
        self._root_prefixes = [_components(str(self.root)), _components(given)]
        self._opener = BeneathOpener(str(self.root), use_openat2)
        self._finalizer = weakref.finalize(self, self._opener.close)
        own = _private_patterns(self.root, own_paths() if private is None else private)
        self._rules = ignore.IgnoreRules(
            self._read_rule_file, extra_ignores, _enclosing_repo_rules(self.root), own, deny
        )
        self._frozen: ignore.Matcher | None = None
        self._denied_inodes: set[tuple[int, int]] | None = None  # kept inside frozen_rules
        self._new_file_mode = 0o644 & ~_umask()
        self.max_read_bytes = MAX_READ_BYTES

    @property
    def uses_openat2(self) -> bool:
        return self._opener.uses_openat2

    def close(self) -> None:
        self._finalizer()

    @contextlib.contextmanager
    def frozen_rules(self) -> Iterator[None]:
        """Read each ignore file once for the whole block (e.g. a search over many files).

        Outside such a block every call re-reads the rule files, so edits to them apply at once.
        """
        outer = self._frozen
        self._frozen = outer or self._rules.matcher()
        try:
            yield
        finally:
            self._frozen = outer
            if outer is None:
                self._denied_inodes = None

    # --- paths ----------------------------------------------------------------------------

    def rel(self, path: str) -> str:
        """The normalised, symlink-resolved POSIX path of `path` relative to the root."""
        return self._resolve(path)[0]

    def is_ignored(self, rel: str) -> bool:
        """Whether a rule hides rel, or it is a hard link to a deny-listed file."""
        try:
            self.check_visible(rel)
        except WorkspaceError:
            return True
        return False

    def check_visible(self, rel: str) -> None:
        """Raise WorkspaceError naming the rule that hides rel, if one does."""
        rel = self._normalise(rel)
        try:
            st = self._lstat(rel)
        except WorkspaceError:
            st = None
        hit = self._matcher().hit(rel, st is not None and stat.S_ISDIR(st.st_mode))
        if hit is not None:
            raise WorkspaceError(_hidden_message(rel, hit))
        if st is not None:
            self._refuse_denied_twin(rel, st)

    def exists(self, path: str) -> bool:
        """Whether path exists; outside or hidden paths raise WorkspaceError."""
        return self._lstat(self._checked(path)) is not None

    def is_dir(self, path: str) -> bool:
        st = self._lstat(self._checked(path))
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_file(self, path: str) -> bool:
        """Whether path is a regular file (not a FIFO, socket or device)."""
        st = self._lstat(self._checked(path))
        return st is not None and stat.S_ISREG(st.st_mode)

    # --- reading --------------------------------------------------------------------------

    def read_bytes(self, path: str) -> bytes:
        return self._read_rel(self._checked(path))

    def read_text(self, path: str) -> str:
        """The file decoded as strict UTF-8; binary or undecodable files raise WorkspaceError."""
        rel = self._checked(path)
        data = self._read_rel(rel)
        if b"\0" in data[:_BINARY_SNIFF_BYTES]:
            raise WorkspaceError(f"'{rel}' looks binary (it contains NUL bytes), not text")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkspaceError(
                f"'{rel}' is not UTF-8 text (undecodable byte at offset {exc.start});"
                " it looks binary or uses another encoding"
            ) from None

    def list_dir(self, path: str = ".") -> list[tuple[str, bool]]:
        """(name, is_dir) of the visible entries, sorted; symlinks count as their target."""
        rel = self._checked(path)
        matcher = self._matcher()
        result = []
        for name, kind in self._scan(rel):
            child = _join(rel, name)
            if matcher.hit(child, kind == _DIR) is None:
                result.append((name, kind == _DIR or (kind == _LINK and self._link_is_dir(child))))
        return result

    def ignored_count(self, path: str = ".") -> int:
        """How many entries directly in path are hidden by ignore rules (.git not counted)."""
        rel = self._checked(path)
        matcher = self._matcher()
        hits = (matcher.hit(_join(rel, name), kind == _DIR) for name, kind in self._scan(rel))
        return sum(1 for hit in hits if hit is not None and hit.source != ignore.GIT_DIR_SOURCE)

    def walk(self, path: str = ".") -> Iterator[str]:
        """Visible regular files beneath path, depth first in name order (as `rg --sort=path`).

        Symlinks are never followed nor listed, so the walk cannot leave the workspace or loop.
        """
        rel = self._checked(path)
        st = self._lstat(rel)
        if st is None:
            raise WorkspaceError(f"no such file or directory: '{rel}'")
        if not stat.S_ISDIR(st.st_mode):
            return iter([rel] if stat.S_ISREG(st.st_mode) else [])
        return self._walk_tree(rel)

    # --- writing --------------------------------------------------------------------------

    def write_text(self, path: str, text: str) -> bool:
        """Atomically replace (or create) a UTF-8 file; True if it was created."""
        rel = self._checked(path)
        _refuse_write(rel)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise WorkspaceError(
                f"cannot write '{rel}': the text is not valid Unicode ({exc.reason})"
            ) from None
        parent, _, name = rel.rpartition("/")
        try:
            dir_fd = self._opener.make_dirs(parent or ".")
        except OSError as exc:
            raise _os_error(exc, parent) from None
        try:
            return self._replace(dir_fd, name, data, rel)
        except OSError as exc:
            raise _os_error(exc, rel) from None
        finally:
            os.close(dir_fd)

    def _replace(self, dir_fd: int, name: str, data: bytes, rel: str) -> bool:
        existing = _lstat_at(dir_fd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise WorkspaceError(f"'{rel}' is a directory")
        keep_mode = existing is not None and stat.S_ISREG(existing.st_mode)
        mode = stat.S_IMODE(existing.st_mode) & 0o777 if keep_mode else self._new_file_mode
        temp = f".glasscoder-{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=dir_fd)
        try:
            try:
                _write_all(fd, data)
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            # rename replaces a symlink planted at `name` instead of following it.
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)  # make the rename durable; not all filesystems support it
        return existing is None

    # --- internals ------------------------------------------------------------------------

    def _resolve(self, path: str) -> tuple[str, list[str]]:
        """(resolved relative path, locations of the symlinks followed on the way)."""
        if "\0" in path:
            raise WorkspaceError("path contains a NUL byte")
        if bad := _CONTROL_IN_PATH.search(path):
            # A "\r\nsrc/b.py\r" from a model's CRLF output would make a folder of that name.
            raise WorkspaceError(f"path contains a control character ({bad.group()!r}); "
                                 "check the path for stray line breaks or tabs")  # fmt: skip
        if len(path) > _MAX_PATH:
            raise WorkspaceError(
                f"cannot access a path {len(path):,} characters long: the limit is {_MAX_PATH:,}"
            )
        pending = list(reversed(self._relative_parts(path)))
        done: list[str] = []
        links: list[str] = []
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if not done:
                    raise _outside(path, links)
                done.pop()
                continue
            target = self._readlink([*done, name])
            if target is None:
                done.append(name)
                continue
            links.append("/".join([*done, name]))
            if len(links) > _MAX_SYMLINKS:
                raise WorkspaceError(f"path '{path}' has too many levels of symlinks (a loop?)")
            if target.startswith("/"):
                inside = self._strip_root(target)
                if inside is None:
                    raise _outside(path, links)
                done, target_parts = [], inside
            else:
                target_parts = target.split("/")
            pending.extend(reversed(target_parts))
        return "/".join(done) or ".", links

    def _relative_parts(self, path: str) -> list[str]:
        if not path.startswith("/"):
            return path.split("/")
        inside = self._strip_root(path)
        if inside is None:
            raise _outside(path, [])
        return inside

    def _strip_root(self, absolute: str) -> list[str] | None:
        parts = _components(absolute)
        for prefix in self._root_prefixes:
            if parts[: len(prefix)] == prefix:
                return parts[len(prefix) :]
        return None

    def _readlink(self, parts: list[str]) -> str | None:
        # Only the check: the later open refuses symlinks, so a wrong answer here is safe.
        try:
            return os.readlink(os.path.join(self.root, *parts))
        except OSError:
            return None

    def _checked(self, path: str) -> str:
        """Resolve path and refuse it if it, or a symlink it goes through, is hidden."""
        rel, links = self._resolve(path)
        matcher = self._matcher()
        for location, is_dir in [*((link, False) for link in links), (rel, self._is_dir_rel(rel))]:
            hit = matcher.hit(location, is_dir)
            if hit is not None:
                raise WorkspaceError(_hidden_message(location, hit))
        return rel

    def _matcher(self) -> ignore.Matcher:
        return self._frozen or self._rules.matcher()

    def _normalise(self, rel: str) -> str:
        if "\0" in rel:
            raise WorkspaceError("path contains a NUL byte")
        norm = posixpath.normpath(rel) if rel else "."
        if norm.startswith("/") or norm == ".." or norm.startswith("../"):
            raise _outside(rel, [])
        return norm

    def _is_dir_rel(self, rel: str) -> bool:
        try:
            st = self._lstat(rel)
        except WorkspaceError:
            return False
        return st is not None and stat.S_ISDIR(st.st_mode)

    def _lstat(self, rel: str) -> os.stat_result | None:
        """lstat of rel through a race-free parent fd; None if it does not exist."""
        if rel == ".":
            return os.fstat(self._opener.root_fd)
        parent, _, name = rel.rpartition("/")
        try:
            fd = self._opener.open_dir(parent or ".")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _os_error(exc, parent) from None
        try:
            return _lstat_at(fd, name)
        except OSError as exc:  # e.g. ENAMETOOLONG
            raise _os_error(exc, rel) from None
        finally:
            os.close(fd)

    def _open(self, rel: str, flags: int) -> int:
        try:
            return self._opener.open(rel, flags)
        except OSError as exc:
            raise _os_error(exc, rel) from None

    def _read_rel(self, rel: str) -> bytes:
        fd = self._open(rel, _READ_FLAGS)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise WorkspaceError(f"'{rel}' is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise WorkspaceError(f"'{rel}' is not a regular file")
            self._refuse_denied_twin(rel, st)
            data = _read_at_most(fd, self.max_read_bytes + 1)
        finally:
            os.close(fd)
        if len(data) > self.max_read_bytes:
            raise WorkspaceError(
                f"'{rel}' is too large to read ({st.st_size} bytes; the limit is"
                f" {self.max_read_bytes}); search it with grep instead"
            )
        return data

    def _refuse_denied_twin(self, rel: str, st: os.stat_result) -> None:
        """WorkspaceError when the regular file rel is another name of a deny-listed file."""
        if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
            return
        if self._frozen is None or self._denied_inodes is None:
            # A new link may have appeared since the last look: look again.
            self._denied_inodes = denied.scan(str(self.root), self._rules.deny_list).inodes
        if (st.st_dev, st.st_ino) in self._denied_inodes:
            raise WorkspaceError(
                f"'{rel}' is another name (a hard link) of a file on {ignore.DENY_SOURCE}, "
                "which may hold credentials and is never shown to the model. Ask the user "
                "for the names you need, not values"
            )

    def _read_rule_file(self, rel: str) -> bytes | None:
        # Rule files are read like everything else: never through a symlink (git agrees).
        try:
            fd = self._opener.open(rel, _READ_FLAGS)
        except (OSError, ValueError):
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return _read_at_most(fd, _MAX_RULE_FILE_BYTES)
        except OSError:
            return None
        finally:
            os.close(fd)

    def _scan(self, rel: str) -> list[tuple[str, str]]:
        """Sorted (name, kind) of every entry in directory rel, hidden ones included."""
        try:
            fd = self._opener.open_dir(rel, listable=True)
        except OSError as exc:
            raise _os_error(exc, rel, missing="no such directory") from None
        try:
            with os.scandir(fd) as entries:
                return sorted((entry.name, _kind(entry)) for entry in entries)
        finally:
            os.close(fd)

    def _walk_tree(self, top: str) -> Iterator[str]:
        matcher = self._matcher()
        stack = [(top, iter(self._scan_quietly(top)))]
        while stack:
            directory, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            name, kind = entry
            child = _join(directory, name)
            if kind not in (_DIR, _FILE) or matcher.hit(child, kind == _DIR) is not None:
                continue
            if kind == _FILE:
                yield child
            else:
                stack.append((child, iter(self._scan_quietly(child))))

    def _scan_quietly(self, rel: str) -> list[tuple[str, str]]:
        # A directory we cannot read (or that vanished mid-walk) is skipped, as ripgrep does.
        try:
            return self._scan(rel)
        except WorkspaceError:
            return []

    def _link_is_dir(self, rel: str) -> bool:
        try:
            return self.is_dir(rel)
        except WorkspaceError:
            return False


def _enclosing_repo_rules(root: Path) -> list[ignore.OuterFile]:
    """Rule files above root when root is a subdirectory of a git repository, deepest first."""
    if os.path.lexists(root / ".git"):
        return []
    repo = next((d for d in root.parents if os.path.lexists(d / ".git")), None)
    if repo is None:
        return []
    found: list[ignore.OuterFile] = []
    for directory in root.parents:
        prefix = root.relative_to(directory).as_posix()
        found += _outer_file(directory / ignore.GITIGNORE, root, prefix, exclude=False)
        if directory == repo:
            found += _outer_file(repo / ignore.GIT_EXCLUDE, root, prefix, exclude=True)
            return found
    return found


def _outer_file(path: Path, root: Path, prefix: str, exclude: bool) -> list[ignore.OuterFile]:
    if path.is_symlink() or not path.is_file():
        return []  # git does not follow symlinked ignore files either
    try:
        with open(path, "rb") as rule_file:
            data = rule_file.read(_MAX_RULE_FILE_BYTES)
    except OSError:
        return []
    lines = tuple(data.decode("utf-8", "surrogateescape").splitlines())
    return [ignore.OuterFile(os.path.relpath(path, root), prefix, lines, exclude)]


def _private_patterns(root: Path, private: Sequence[Path]) -> list[str]:
    """Anchored ignore patterns for those private paths that lie inside root."""
    patterns = []
    for path in private:
        try:
            rel = Path(os.path.realpath(path)).relative_to(root)
        except ValueError:
            continue  # outside the workspace: out of the model's reach anyway
        if rel.parts:
            patterns.append("/" + "".join(_escape_glob(c) for c in rel.as_posix()))
    return patterns


def _escape_glob(char: str) -> str:
    return "\\" + char if char in "\\*?[] " else char


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _join(directory: str, name: str) -> str:
    return name if directory == "." else f"{directory}/{name}"


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return _LINK
    if entry.is_dir(follow_symlinks=False):
        return _DIR
    if entry.is_file(follow_symlinks=False):
        return _FILE
    return _OTHER


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _umask() -> int:
    # Reading it from /proc avoids os.umask(), which briefly changes it for every thread.
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _refuse_write(rel: str) -> None:
    if rel == ".":
        raise WorkspaceError("the workspace root is a directory; give a file path to write")
    if rel.rpartition("/")[2] == ignore.GLASSCODERIGNORE:
        raise WorkspaceError(
            f"'{rel}' lists files hidden from the model; only the user may change it"
        )
    if PROJECT_CONFIG_DIR in rel.split("/"):
        raise WorkspaceError(
            f"'{rel}' is in {PROJECT_CONFIG_DIR}/, glasscoder's configuration for this project; "
            "only the user may change it"
        )


def _outside(path: str, links: list[str]) -> WorkspaceError:
    if links:
        return WorkspaceError(
            f"path '{path}' is outside the workspace (through the symlink '{links[-1]}')"
        )
    return WorkspaceError(f"path '{path}' is outside the workspace")


def _hidden_message(rel: str, hit: ignore.Hit) -> str:
    if hit.source == ignore.GIT_DIR_SOURCE:
        return f"'{rel}' is inside git's internal .git directory, which is hidden from the model"
    if hit.source == ignore.OWN_SOURCE:
        return f"'{rel}' holds glasscoder's own configuration or sessions, hidden from the model"
    if hit.source == ignore.DENY_SOURCE:
        where = "" if hit.path == rel else f" (inside '{hit.path}')"
        return (
            f"'{rel}'{where} may hold credentials: it matches '{hit.pattern}' on {hit.source} "
            "and is never shown to the model. Ask the user for the names you need, not values"
        )
    rule = f"{hit.source} (pattern '{hit.pattern}')"
    if hit.path == rel:
        return f"'{rel}' is ignored by {rule} and hidden from the model"
    return f"'{rel}' is inside '{hit.path}', which is ignored by {rule} and hidden from the model"


def _os_error(exc: OSError, rel: str, missing: str = "no such file") -> WorkspaceError:
    rel = rel or "."
    code = exc.errno
    if code == errno.ENOENT:
        return WorkspaceError(f"{missing}: '{rel}'")
    if code in (errno.ELOOP, errno.EXDEV, errno.EMLINK):
        return WorkspaceError(
            f"'{rel}' changed while being opened (a symlink appeared in its path); not following it"
        )
    if code == errno.ENOTDIR:
        return WorkspaceError(f"cannot open '{rel}': part of the path is not a directory")
    if code == errno.EISDIR:
        return WorkspaceError(f"'{rel}' is a directory")
    if code in (errno.EACCES, errno.EPERM):
        return WorkspaceError(f"permission denied: '{rel}'")
    return WorkspaceError(f"cannot access '{rel}': {exc.strerror or exc}")
