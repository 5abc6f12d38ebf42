"""The grep tool: regex search of file contents, with ripgrep when it is installed.

Both back ends feed the same collector, so the model sees one output format. Files are
shown in `rg --sort=path` order, which is also the order of Workspace.walk. Whatever
ripgrep reports is filtered through the workspace's own rules (ignore files, symlinks), so
its different ignore handling can never reveal a hidden file or anything outside the root.
"""

from __future__ import annotations

import base64
import bisect
import functools
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from glasscoder import textcut
from glasscoder.sandbox import hostpaths
from glasscoder.tools.args import bool_arg, int_arg, str_arg
from glasscoder.tools.base import Observation, ToolContext, ToolError, clip
from glasscoder.tools.globs import compile_glob
from glasscoder.workspace import Workspace, WorkspaceError

DEFAULT_MAX_RESULTS = 100
MAX_CONTEXT = 20
MAX_LINE_CHARS = 500
SEARCH_TIMEOUT = 60.0
COUNT_CEILING = 10_000  # matches counted past the shown ones before we stop counting

Line = tuple[int, str, bool]  # (line number, text, is it a match rather than context)


@dataclass(frozen=True)
class _Query:
    pattern: str
    scope: str  # workspace-relative file or directory
    glob: str | None
    ignore_case: bool
    context: int
    max_results: int

    def wants(self, rel: str) -> bool:
        return self.glob is None or _glob_filter(self.glob)(rel)


@dataclass
class _Results:
    """The first max_results matches (with their context) and a count of the others."""

    max_results: int
    context: int
    files: list[tuple[str, list[Line]]] = field(default_factory=list)
    shown: int = 0
    more: int = 0
    unreadable: int = 0
    timed_out: bool = False

    @property
    def full(self) -> bool:
        return self.more >= COUNT_CEILING

    def add_file(self, path: str, lines: list[Line]) -> None:
        matches = [number for number, _, is_match in lines if is_match]
        room = max(self.max_results - self.shown, 0)
        kept = matches[:room]
        self.shown += len(kept)
        self.more += len(matches) - len(kept)
        if kept:
            near = [line for line in lines if _near(line[0], kept, self.context)]
            self.files.append((path, [(n, text, n in kept) for n, text, _ in near]))

    def render(self, query: _Query) -> str:
        if not self.files:
            where = f" in files matching {textcut.quoted(query.glob)}" if query.glob else ""
            pattern, scope = textcut.quoted(query.pattern), textcut.quoted(query.scope)
            text = f"No matches for {pattern} in {scope}{where}."
        else:
            text = "\n\n".join(self._render_file(path, lines) for path, lines in self.files)
        return text + "".join(f"\n{note}" for note in self._notes())

    def _render_file(self, path: str, lines: list[Line]) -> str:
        out: list[str] = []
        previous = None
        for number, text, is_match in lines:
            if self.context and previous is not None and number > previous + 1:
                out.append("--")
            sep = ":" if is_match else "-"
            out.append(f"{path}{sep}{number}{sep}{_cut(text)}")
            previous = number
        return "\n".join(out)

    def _notes(self) -> list[str]:
        notes = []
        if self.more:
            count = f"{self.more}+" if self.full else str(self.more)
            noun = "match" if self.more == 1 else "matches"
            notes.append(
                f"... {count} more {noun} not shown (showing the first {self.shown}); "
                "narrow the pattern, path or glob, or raise max_results"
            )
        if self.timed_out:
            notes.append(f"(search stopped after {SEARCH_TIMEOUT:.0f}s; results are incomplete)")
        if self.unreadable:
            notes.append(f"({self.unreadable} files could not be read and were skipped)")
        return notes


def _near(number: int, kept: list[int], context: int) -> bool:
    i = bisect.bisect_left(kept, number - context)
    return i < len(kept) and kept[i] <= number + context


def _cut(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    shown = textcut.head(text, MAX_LINE_CHARS)
    return f"{shown} [... {len(text) - len(shown)} more characters]"


@functools.lru_cache(maxsize=32)
def _glob_filter(glob: str) -> Callable[[str], bool]:
    """ripgrep's --glob semantics: no '/' matches the file name at any depth, otherwise the
    workspace-relative path; a leading '!' excludes instead."""
    negate = glob.startswith("!")
    body = glob[1:] if negate else glob
    body = body.removeprefix("/")
    regex = compile_glob(body)
    whole_path = "/" in body

    def wanted(rel: str) -> bool:
        target = rel if whole_path else rel.rpartition("/")[2]
        return bool(regex.fullmatch(target)) != negate

    return wanted


class Grep:
    name: ClassVar[str] = "grep"
    description: ClassVar[str] = (
        "Search file contents with a regular expression (ripgrep syntax). Prints matching "
        "lines as path:line:text, grouped by file; use glob (e.g. '*.py') to pick files."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Regular expression to search for"},
            "path": {
                "type": "string",
                "description": "File or directory to search (default: the workspace root)",
            },
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob, e.g. '*.py' or 'src/**/*.ts'",
            },
            "ignore_case": {"type": "boolean", "description": "Case-insensitive search"},
            "context": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_CONTEXT,
                "description": "Lines of context to show before and after each match",
            },
            "max_results": {
                "type": "integer",
                "minimum": 1,
                "description": f"Maximum matching lines to show (default {DEFAULT_MAX_RESULTS})",
            },
        },
        "required": ["pattern"],
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def __init__(self, use_ripgrep: bool | None = None) -> None:
        # None: ripgrep when found; False: always the Python search; True: require ripgrep.
        self._use_ripgrep = use_ripgrep

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        query = _query(args, ctx.workspace)
        results = _Results(query.max_results, query.context)
        rg = find_rg(ctx.workspace.root) if self._use_ripgrep is not False else None
        with ctx.workspace.frozen_rules():
            searched = rg is not None and _search_rg(rg, ctx.workspace, query, results)
            if not searched:
                if self._use_ripgrep:
                    raise RuntimeError("ripgrep was required but could not be run")
                _search_python(ctx.workspace, query, results)
        return Observation(clip(results.render(query), ctx.output_limit))


def _query(args: dict[str, Any], ws: Workspace) -> _Query:
    pattern = str_arg(args, "pattern")
    if not pattern:
        raise ToolError("argument 'pattern' must not be empty")
    path = str_arg(args, "path", ".")
    if not ws.exists(path):  # also refuses hidden paths, saying which rule hides them
        raise ToolError(f"no such file or directory: '{path}'")
    if not ws.is_dir(path) and not ws.is_file(path):  # ripgrep would block reading a FIFO
        raise ToolError(f"'{path}' is not a regular file or a directory")
    glob = args.get("glob") or None
    if glob is not None and not isinstance(glob, str):
        raise ToolError("argument 'glob' must be a string")
    return _Query(
        pattern=pattern,
        scope=ws.rel(path),
        glob=glob,
        ignore_case=bool_arg(args, "ignore_case", False),
        context=int_arg(args, "context", 0, minimum=0, maximum=MAX_CONTEXT),
        max_results=int_arg(args, "max_results", DEFAULT_MAX_RESULTS, minimum=1),
    )


# --- Python back end ------------------------------------------------------------------------


def _search_python(ws: Workspace, query: _Query, results: _Results) -> None:
    regex = _compile(query)
    deadline = time.monotonic() + SEARCH_TIMEOUT
    for rel in ws.walk(query.scope):
        if results.full:
            return
        if time.monotonic() > deadline:
            results.timed_out = True
            return
        if not query.wants(rel):
            continue
        try:
            data = ws.read_bytes(rel)
        except WorkspaceError:
            results.unreadable += 1  # vanished, too large, unreadable: skip it as rg would
            continue
        if b"\0" in data:
            continue  # binary, as ripgrep decides it
        lines = _matching_lines(data.decode("utf-8", "replace"), regex, query.context)
        if lines:
            results.add_file(rel, lines)


def _compile(query: _Query) -> re.Pattern[str]:
    flags = re.MULTILINE | (re.IGNORECASE if query.ignore_case else 0)
    try:
        with warnings.catch_warnings():  # "possible nested set" and the like: the model's
            warnings.simplefilter("ignore")  # pattern, not something for the person's terminal
            return re.compile(query.pattern, flags)
    except re.error as exc:
        raise ToolError(f"invalid regex {textcut.quoted(query.pattern)}: {exc}") from None
    except (RecursionError, OverflowError, MemoryError):  # Python's compiler recurses per group
        pattern = textcut.quoted(query.pattern)
        message = f"the regex {pattern} nests too deeply to compile; use a simpler one"
        raise ToolError(message) from None


def _matching_lines(text: str, regex: re.Pattern[str], context: int) -> list[Line]:
    if not regex.search(text):  # most files do not match; skip splitting them
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    matches = {i for i, line in enumerate(lines) if regex.search(line)}
    wanted: set[int] = set()
    for i in matches:
        wanted.update(range(max(0, i - context), min(len(lines), i + context + 1)))
    return [(i + 1, lines[i].removesuffix("\r"), i in matches) for i in sorted(wanted)]


# --- ripgrep back end -----------------------------------------------------------------------


def find_rg(root: Path | None = None) -> str | None:
    """The rg from the `ripgrep` wheel in this environment (read-only inside the sandbox even
    when the environment is inside the workspace: sandbox/hostpaths.py), else one on PATH
    outside ``root``, the workspace the search runs in (None: the working folder)."""
    return _wheel_rg() or hostpaths.find("rg", root or Path.cwd())


@functools.cache
def _wheel_rg() -> str | None:
    exe = "rg.exe" if os.name == "nt" else "rg"
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _rg_argv(rg: str, query: _Query) -> list[str]:
    argv = [
        rg,
        "--json",
        "--no-config",  # a user's RIPGREP_CONFIG_PATH could add --follow
        "--no-follow",
        "--hidden",  # dotfiles are not hidden from the model unless an ignore rule says so
        "--no-require-git",  # the workspace honours .gitignore even outside a git repo
        "--no-ignore-global",
        "--no-ignore-parent",
        "--no-ignore-dot",
        "--no-messages",
        "--encoding=none",  # no UTF-16 sniffing: NUL bytes mean binary, as in the fallback
        "--sort=path",
    ]
    if query.ignore_case:
        argv.append("--ignore-case")
    if query.context:
        argv.append(f"--context={query.context}")
    if query.glob:
        argv.append(f"--glob={query.glob}")
    argv += ["--glob=!.git", "--regexp", query.pattern, "--", query.scope]
    return argv


def _search_rg(rg: str, ws: Workspace, query: _Query, results: _Results) -> bool:
    """Search with ripgrep; False if it cannot be started (then the caller falls back)."""
    env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(
                _rg_argv(rg, query),
                cwd=ws.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        except OSError:
            return False  # e.g. a wheel built for another platform
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(SEARCH_TIMEOUT, expire)
        timer.start()
        try:
            _read_rg_output(proc, ws, query, results)
        finally:
            timer.cancel()
            proc.kill()  # no-op when it already exited; stops it once we have counted enough
            assert proc.stdout is not None
            proc.stdout.close()
            proc.wait()
        results.timed_out = expired.is_set()
        if proc.returncode == 2:
            stderr.seek(0)
            _raise_rg_error(query, stderr.read().decode("utf-8", "replace"))
    return True


def _read_rg_output(
    proc: subprocess.Popen[bytes], ws: Workspace, query: _Query, results: _Results
) -> None:
    assert proc.stdout is not None
    path, lines = "", []
    for raw in proc.stdout:
        message = json.loads(raw)
        kind, data = message.get("type"), message.get("data", {})
        if kind == "begin":
            path, lines = _rg_path(data), []
        elif kind in ("match", "context"):
            text = _rg_text(data["lines"], _decode_line).removesuffix("\n").removesuffix("\r")
            lines.append((data["line_number"], text, kind == "match"))
        elif kind == "end" and data.get("binary_offset") is None and _shown(ws, query, path):
            results.add_file(path, lines)
            if results.full:
                return


def _rg_path(data: dict[str, Any]) -> str:
    # Names that are not UTF-8 decode as os.listdir() decodes them, so they compare equal.
    path = _rg_text(data["path"], os.fsdecode)
    return path[2:] if path.startswith("./") else path


def _rg_text(field_: dict[str, Any], decode: Callable[[bytes], str]) -> str:
    if "text" in field_:
        return str(field_["text"])
    return decode(base64.b64decode(field_["bytes"]))  # not UTF-8: rg sends base64


def _decode_line(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")  # as the Python back end decodes file contents


def _shown(ws: Workspace, query: _Query, path: str) -> bool:
    """Whether ripgrep's hit may be shown: a symlink-free, visible path inside the root."""
    try:
        return ws.rel(path) == path and not ws.is_ignored(path) and query.wants(path)
    except WorkspaceError:
        return False


def _raise_rg_error(query: _Query, stderr: str) -> None:
    details = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not details:
        return  # exit 2 without a message: some file could not be read (--no-messages)
    reason = next((d[len("error:") :].strip() for d in details if d.startswith("error:")), None)
    if "regex" in details[0]:
        raise ToolError(f"invalid regex {textcut.quoted(query.pattern)}: {reason or details[-1]}")
    raise ToolError(f"grep failed: {' '.join(details)[:500]}")
