"""Read-only file tools: read_file, list_directory, glob."""

from __future__ import annotations

from typing import Any, ClassVar

from glasscoder import textcut
from glasscoder.tools.args import int_arg, str_arg
from glasscoder.tools.base import Observation, ToolContext, ToolError, clip
from glasscoder.tools.globs import compile_glob
from glasscoder.workspace import Workspace

DEFAULT_READ_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_GLOB_RESULTS = 500
_FOOTER_RESERVE = 200  # room kept for the "use offset=..." footer within the output limit
_GLOB_SPECIAL = frozenset("*?[{\\")


class ReadFile:
    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = (
        "Read a text file from the workspace. Returns numbered lines like `cat -n`, at most "
        f"{DEFAULT_READ_LIMIT} lines per call; use offset and limit to read other parts."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root"},
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "Line number to start reading at (1-based)",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"Number of lines to read (default {DEFAULT_READ_LIMIT})",
            },
        },
        "required": ["path"],
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        path = str_arg(args, "path")
        offset = int_arg(args, "offset", 1, minimum=1)
        limit = int_arg(args, "limit", DEFAULT_READ_LIMIT, minimum=1)
        ws = ctx.workspace
        if ws.is_dir(path):
            raise ToolError(f"'{path}' is a directory; use list_directory to see what it contains")
        lines = _split_lines(ws.read_text(path))
        if not lines:
            return Observation(f"(the file '{ws.rel(path)}' is empty)")
        if offset > len(lines):
            raise ToolError(
                f"offset {offset} is past the end of '{path}', which has {len(lines)} lines"
            )
        return Observation(_numbered(lines, offset, limit, ctx.output_limit))


def _split_lines(text: str) -> list[str]:
    # Split on "\n" only, so numbering agrees with grep and editors (str.splitlines would
    # also split on form feeds and other Unicode separators).
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _numbered(lines: list[str], offset: int, limit: int, output_limit: int) -> str:
    end = min(len(lines), offset - 1 + limit)
    budget = max(output_limit - _FOOTER_RESERVE, 0)
    out: list[str] = []
    used = 0
    number = offset
    while number <= end:
        entry = f"{number:6d}\t{_cut_line(lines[number - 1])}"
        if out and used + len(entry) + 1 > budget:
            break
        out.append(entry)
        used += len(entry) + 1
        number += 1
    remaining = len(lines) - number + 1
    noun = "line" if remaining == 1 else "lines"
    more = f"{remaining} more {noun}; use offset={number} to continue"
    if number <= end:
        out.append(f"... output limit reached; {more}")
    elif remaining > 0:
        out.append(f"... {more}")
    return clip("\n".join(out), output_limit)


def _cut_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    shown = textcut.head(line, MAX_LINE_CHARS)
    return f"{shown} [... line cut, {len(line) - len(shown)} more characters]"


class ListDirectory:
    name: ClassVar[str] = "list_directory"
    description: ClassVar[str] = (
        "List the files and subdirectories of a workspace directory (directories end with '/')."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Directory relative to the workspace root (default '.')",
            },
        },
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        path = str_arg(args, "path", ".")
        ws = ctx.workspace
        _require_dir(ws, path)
        lines = [f"{name}/" if is_dir else name for name, is_dir in ws.list_dir(path)]
        if not lines:
            lines.append("(empty directory)")
        hidden = ws.ignored_count(path)
        if hidden:
            entries = "entry" if hidden == 1 else "entries"
            lines.append(f"({hidden} {entries} hidden by .gitignore/.glasscoderignore rules)")
        return Observation(clip("\n".join(lines), ctx.output_limit))


def _require_dir(ws: Workspace, path: str) -> None:
    if ws.is_dir(path):
        return
    if ws.exists(path):
        raise ToolError(f"'{path}' is a file, not a directory; use read_file to read it")
    raise ToolError(f"no such directory: '{path}'")


class Glob:
    name: ClassVar[str] = "glob"
    description: ClassVar[str] = (
        "Find files whose path matches a glob pattern, e.g. 'src/**/*.py' or '*.md' "
        "(`**` matches any number of directories). Returns workspace-relative paths, sorted."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Glob pattern relative to path"},
            "path": {
                "type": "string",
                "description": "Directory to search in (default: the workspace root)",
            },
        },
        "required": ["pattern"],
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        pattern = _clean_pattern(str_arg(args, "pattern"))
        path = str_arg(args, "path", ".")
        ws = ctx.workspace
        _require_dir(ws, path)
        matches = sorted(_glob(ws, ws.rel(path), pattern))
        if not matches:
            where = textcut.quoted(ws.rel(path))
            return Observation(f"No files match {textcut.quoted(pattern)} in {where}.")
        lines = matches[:MAX_GLOB_RESULTS]
        if len(matches) > MAX_GLOB_RESULTS:
            lines.append(
                f"... {len(matches) - MAX_GLOB_RESULTS} more files not shown (first "
                f"{MAX_GLOB_RESULTS} of {len(matches)}); use a narrower pattern or path"
            )
        return Observation(clip("\n".join(lines), ctx.output_limit))


def _clean_pattern(pattern: str) -> str:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if not pattern or pattern.startswith("/"):
        raise ToolError("the glob pattern must be relative to 'path', e.g. 'src/**/*.py'")
    if ".." in pattern.split("/"):
        raise ToolError("glob patterns cannot contain '..'; set 'path' to search elsewhere")
    return pattern


def _glob(ws: Workspace, base: str, pattern: str) -> list[str]:
    """Workspace-relative files under base whose path relative to base matches pattern."""
    # Walk only below the literal leading directories ("src/pkg" of "src/pkg/**/*.py").
    segments = pattern.split("/")
    literal = 0
    while literal < len(segments) - 1 and not _GLOB_SPECIAL & set(segments[literal]):
        literal += 1
    start = "/".join([base, *segments[:literal]]) if literal else base
    if not ws.is_dir(start):
        return []
    start = ws.rel(start)
    regex = compile_glob("/".join(segments[literal:]))
    prefix = "" if start == "." else start + "/"
    return [f for f in ws.walk(start) if regex.fullmatch(f[len(prefix) :])]
