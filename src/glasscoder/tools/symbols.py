"""Read-only code navigation over the repo map: find_symbol and repo_map (glasscoder.repomap).

Offered only when the grammars (the `map` extra) are installed. Both use the workspace's one
shared index (repomap/shared.py): a call waits for the first turn's background build instead of
starting another, and later calls only re-read files that changed.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, ClassVar

from glasscoder.tools.args import int_arg, str_arg
from glasscoder.tools.base import Observation, Tool, ToolContext, ToolError, clip

if TYPE_CHECKING:
    from glasscoder.repomap.shared import SharedIndex
    from glasscoder.workspace import Workspace

MAX_MAP_TOKENS = 8000


def symbol_tools() -> list[Tool]:
    """The tools, or none when the `map` extra is not installed."""
    if any(importlib.util.find_spec(m) is None for m in ("tree_sitter_language_pack", "numpy")):
        return []
    return [FindSymbol(), RepoMap()]


class _Indexed:
    def index(self, workspace: Workspace) -> SharedIndex:
        from glasscoder.repomap.build import shared_index

        return shared_index(workspace)


class FindSymbol(_Indexed):
    name: ClassVar[str] = "find_symbol"
    description: ClassVar[str] = (
        "Find where a function, class, type or constant is defined: path:line and signature."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Symbol name"}},
        "required": ["name"],
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        from glasscoder.repomap.build import find

        name = str_arg(args, "name").strip()
        if not name:
            raise ToolError("argument 'name' must not be empty")
        found = self.index(ctx.workspace).run(lambda index: find(index, name))
        if not found:
            return Observation(f"No definition named '{name}' in the mapped source files.")
        lines = [f"{path}:{d.line}: {d.signature}" for path, d in found]
        return Observation(clip("\n".join(lines), ctx.output_limit))


class RepoMap(_Indexed):
    name: ClassVar[str] = "repo_map"
    description: ClassVar[str] = (
        "Outline of the repository's most relevant definitions, ranked toward the focus files."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "focus": {"type": "array", "items": {"type": "string"}, "description": "Paths"},
            "tokens": {"type": "integer", "minimum": 100, "description": "Size (default 1000)"},
        },
    }
    read_only: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        from glasscoder.repomap.build import map_text

        focus = args.get("focus") or []
        if isinstance(focus, str):
            focus = [focus]
        if not isinstance(focus, list) or not all(isinstance(f, str) for f in focus):
            raise ToolError("argument 'focus' must be a list of paths")
        for path in focus:
            if not ctx.workspace.is_file(path):
                raise ToolError(f"'{path}' is not a file in the workspace")
        tokens = int_arg(args, "tokens", 1000, minimum=100, maximum=MAX_MAP_TOKENS)
        text = self.index(ctx.workspace).run(lambda index: map_text(index, "", focus, tokens))
        return Observation(clip(text, ctx.output_limit) or "(no mapped source files)")
