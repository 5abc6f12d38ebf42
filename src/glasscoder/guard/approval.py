"""Approval modes: which tool calls may run without asking.

plan       read-only tools only
auto-edit  file edits run; commands only when they match an allowed command from config
auto       everything runs (commands still go through the sandbox)
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from glasscoder.tools.base import Tool, ToolContext

# Characters that let one command line run more than the allowed command.
SHELL_CONTROL = set(";&|`$<>(){}\n\r\\")
PYTHON = re.compile(r"python(3(\.[0-9]+)?)?")


@dataclass
class Approval:
    mode: str = "auto-edit"
    allow_commands: list[str] = field(default_factory=list)

    def offers(self, tool: Tool) -> bool:
        """Whether the tool is shown to the model at all in this mode."""
        return tool.read_only or self.mode != "plan"

    def refusal(
        self, tool: Tool, args: dict[str, Any], ctx: ToolContext | None = None
    ) -> str | None:
        """None if the call may run, else the message the model gets instead of a result."""
        if tool.read_only or self.mode == "auto":
            return None
        if self.mode == "plan":
            return (
                f"{tool.name} is not available in plan mode (read-only). Describe the change "
                "you would make instead."
            )
        if not tool.runs_commands:
            return None
        command = _command_line(tool, args, ctx)
        if command_allowed(command, self.allow_commands):
            return None
        allowed = ", ".join(self.allow_commands) or "none"
        return (
            "Commands are not run in auto-edit mode unless the user allowed them in config "
            f"(allowed: {allowed}). Edit files with the file tools, or tell the user which "
            "command to run and why."
        )


def _command_line(tool: Tool, args: dict[str, Any], ctx: ToolContext | None) -> str:
    """What the call would run: run_shell says it; a tool like run_tests works it out."""
    derive = getattr(tool, "command_line", None)
    if derive is not None and ctx is not None:
        return str(derive(args, ctx))
    return str(args.get("command", ""))


def command_allowed(command: str, allowed: list[str]) -> bool:
    """True when `command` is one simple command starting with the words of an allowed entry."""
    if not command.strip() or SHELL_CONTROL & set(command):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    module = _module_run(words)
    for entry in allowed:
        prefix = shlex.split(entry)
        if prefix and prefix in (words[: len(prefix)], module[: len(prefix)]):
            return True
    return False


def _module_run(words: list[str]) -> list[str]:
    """`python3 -m pytest -x` as `pytest -x`: allowing pytest allows running it either way."""
    if len(words) > 2 and PYTHON.fullmatch(words[0]) and words[1] == "-m":
        return words[2:]
    return words
