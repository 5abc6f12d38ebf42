"""The Tool interface: a name, a JSON schema, and run(args, ctx) -> Observation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from glasscoder import textcut

if TYPE_CHECKING:
    from glasscoder.guard.placeholders import PlaceholderGuard
    from glasscoder.languages.feedback import EditFeedback
    from glasscoder.sandbox.base import Sandbox
    from glasscoder.workspace import Workspace


class ToolError(Exception):
    """A problem the model can fix (bad path, no match...); becomes an error observation."""


@dataclass
class Observation:
    text: str
    is_error: bool = False
    files_changed: list[str] = field(default_factory=list)


@dataclass
class ToolContext:
    workspace: Workspace
    sandbox: Sandbox | None  # None: commands are refused (no sandbox chosen)
    sandbox_refusal: str = ""  # what to tell the model when sandbox is None
    shell_timeout: float = 120.0
    output_limit: int = 16_000  # characters of tool output shown to the model
    placeholders: PlaceholderGuard | None = None  # screens writes for redaction placeholders
    test_command: str = ""  # the `test_command` setting; run_tests discovers one when empty
    feedback: EditFeedback | None = None  # lints edited files; None: no linting after edits


class Tool(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]  # JSON schema of the arguments object
    read_only: ClassVar[bool]  # True: allowed in plan mode
    runs_commands: ClassVar[bool]

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation: ...


def schema_for(tool: Tool) -> dict[str, Any]:
    """The OpenAI `tools` entry for one tool."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def clip(text: str, limit: int) -> str:
    """Keep text within limit characters, cutting at a line break and saying so."""
    if len(text) <= limit:
        return text
    note = f"\n... [output cut at {limit} characters; narrow the request to see the rest]"
    keep = max(limit - len(note), 0)
    cut = text.rfind("\n", 0, keep + 1)
    head = text[:cut] if cut > 0 else textcut.head(text, keep)
    return head + note
