"""Approval modes: which tool calls run, which are asked about, which are refused.

The sandbox is the protection, so in the default mode commands run inside it without asking.
What it cannot give (a command with no sandbox at all) is asked for on a terminal and refused
headless, where nobody can answer.

plan       read-only tools only
ask        every edit and every command is asked about first
auto-edit  edits run; commands are asked about (headless: only allowed commands run)
auto       edits and sandboxed commands run (the default)

A command that matches an entry of `allow_commands` (config) or a prefix the person allowed
for this session runs without asking in every mode but plan.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

MODES = ("plan", "ask", "auto-edit", "auto")
# Characters that let one command line run more than the allowed command.
SHELL_CONTROL = set(";&|`$<>(){}\n\r\\")
PYTHON = re.compile(r"python(3(\.[0-9]+)?)?")

Verdict = Literal["run", "ask", "refuse"]


class Action(Protocol):
    """What approval needs to know of a tool: nothing of how it runs."""

    name: str
    read_only: bool
    runs_commands: bool


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""  # why it is asked, or the message a refusal gives the model


@dataclass(frozen=True)
class Request:
    """A call put to the person: which tool, on what, and why it is asked."""

    tool: str
    what: str  # the command line, or the path an edit writes
    why: str  # "command", "edit" or "no sandbox"
    prefix: str  # what "yes for this command" would allow; empty: only "yes once"
    arguments: dict[str, Any] = field(default_factory=dict)  # the call's, for a preview


@dataclass(frozen=True)
class Answer:
    choice: Literal["once", "session", "no"]
    reason: str = ""  # with "no": passed to the model


@dataclass
class Approval:
    mode: str = "auto"
    allow_commands: list[str] = field(default_factory=list)
    # Command prefixes the person answered "yes for this session" to.
    session_allowed: list[str] = field(default_factory=list)
    # Whether `sandbox = none` was the person's own choice: then commands running unsandboxed
    # is what they asked for, not something to ask about.
    unsandboxed_chosen: bool = False
    # Prefixes allowed to run with no sandbox at all, for this session (asked separately).
    unsandboxed_allowed: list[str] = field(default_factory=list)

    def offers(self, tool: Action) -> bool:
        """Whether the tool is shown to the model at all in this mode."""
        return tool.read_only or self.mode != "plan"

    def decide(self, tool: Action, command: str = "", sandboxed: bool = True) -> Decision:
        """run, ask (with why) or refuse (with the model's message) for one call."""
        if tool.read_only:
            return Decision("run")
        if self.mode == "plan":
            return Decision("refuse", f"{tool.name} is not available in plan mode (read-only). "
                            "Describe the change you would make instead.")  # fmt: skip
        if not tool.runs_commands:
            return Decision("ask", "edit") if self.mode == "ask" else Decision("run")
        if not sandboxed and not self.unsandboxed_chosen:
            if command_allowed(command, self.unsandboxed_allowed):
                return Decision("run")
            return Decision("ask", "no sandbox")
        if command_allowed(command, [*self.allow_commands, *self.session_allowed]):
            return Decision("run")
        if self.mode == "auto":
            return Decision("run")
        return Decision("ask", "command")

    def refusal_without_asking(self, why: str) -> str:
        """The model's message for a call that needed a person's yes and had nobody to ask."""
        if why == "no sandbox":
            return ""  # the tool's own no-sandbox message says it better
        if why == "edit":
            return ("Edits are asked about in ask mode, and nobody can answer in a headless "
                    "run. Describe the change you would make instead.")  # fmt: skip
        allowed = ", ".join(self.allow_commands) or "none"
        return (
            f"Commands are not run in {self.mode} mode unless the user allowed them in config "
            f"(allowed: {allowed}). Edit files with the file tools, or tell the user which "
            "command to run and why."
        )

    def allow_for_session(self, prefix: str, why: str = "command") -> None:
        """The person's "yes for this command" to a call asked about for `why`."""
        into = self.unsandboxed_allowed if why == "no sandbox" else self.session_allowed
        if prefix and prefix not in into:
            into.append(prefix)


def command_prefix(command: str) -> str:
    """What "yes for this command" allows: the program and, for a tool with subcommands,
    the first word after it (`git status`, `npm test`, `pytest`). Empty when the line does
    more than one simple command (then only "yes once" is offered)."""
    if not command.strip() or SHELL_CONTROL & set(command):
        return ""
    try:
        words = _module_run(shlex.split(command))
    except ValueError:
        return ""
    if not words or words[0] in _WRAPPERS or "=" in words[0]:
        return ""  # `env X`, `timeout 60 X`, `FOO=1 X`: a yes to the wrapper runs anything
    if words[0] not in _SUBCOMMAND_TOOLS and not _INTERPRETER.fullmatch(words[0]):
        return shlex.join(words[:1])
    if len(words) < 2 or words[1].startswith("-"):
        return ""  # `git -c ...`, `python3 -c ...`: a yes to all of git or python is too wide
    if words[1] in _RUNNERS:  # `uv run pytest`, `npm exec x`: the program run is the third
        return shlex.join(words[:3]) if len(words) > 2 and not words[2].startswith("-") else ""
    return shlex.join(words[:2])


_SUBCOMMAND_TOOLS = frozenset(
    {"git", "npm", "pnpm", "yarn", "cargo", "go", "make", "uv", "pip", "poetry", "docker",
     "bundle", "gradle", "mvn", "dotnet", "deno", "bun", "npx"}
)  # fmt: skip


# Programs that run the command they are given: a yes to one of them is a yes to anything.
_WRAPPERS = frozenset(
    {"env", "timeout", "xargs", "nice", "nohup", "sudo", "doas", "exec", "command", "time",
     "stdbuf", "setsid", "watch", "strace", "ltrace", "chroot", "unshare", "busybox", "eval"}
)  # fmt: skip
# Subcommands that run another program, named next (`uv run X`, `npm exec X`, `pnpm dlx X`).
_RUNNERS = frozenset({"run", "exec", "x", "dlx", "tool"})

# A yes to an interpreter is a yes to every program: it covers the script named, not more.
_INTERPRETER = re.compile(r"(python[0-9.]*|node|bash|sh|zsh|ruby|perl|php|deno|bun|lua)")


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
