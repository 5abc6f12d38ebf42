"""The run_tests tool: the project's test command, through the sandbox, summarised.

The command comes from languages.project (configuration first, then manifests); the output is
cut down by languages.testsummary so a failing suite does not flood a small context.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from glasscoder.languages.diagnostics import TOOL_ENV
from glasscoder.languages.project import TestCommand, narrowed, test_command
from glasscoder.languages.testsummary import summarise
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.env import minimal_env
from glasscoder.tools.args import int_arg, str_arg
from glasscoder.tools.base import Observation, ToolContext, ToolError, clip
from glasscoder.tools.shell import DEFAULT_REFUSAL, MAX_TIMEOUT

RAW_OUTPUT = 400_000  # characters of raw output kept for the summary (head and tail)
DEFAULT_TIMEOUT = 300.0


class RunTests:
    name: ClassVar[str] = "run_tests"
    description: ClassVar[str] = (
        "Run the project's tests (the command is found from its configuration) and get the "
        "counts, failing test names and the first lines of each failure."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "target": {
                "type": "string",
                "description": "Optional: a test file, folder or test name to run alone.",
            },
            "timeout": {"type": "integer", "description": f"Seconds (max {MAX_TIMEOUT})."},
        },
    }
    read_only: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = True

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        if ctx.sandbox is None:
            return Observation(ctx.sandbox_refusal or DEFAULT_REFUSAL, is_error=True)
        cmd = test_command(ctx.workspace.root, ctx.test_command)
        if cmd is None:
            raise ToolError(
                "no test command found (no test script, Makefile target or test "
                "configuration); run the tests with run_shell"
            )
        argv, note = _argv(cmd, args)
        default = int(min(max(ctx.shell_timeout, DEFAULT_TIMEOUT), MAX_TIMEOUT))
        timeout = float(int_arg(args, "timeout", default, 1, MAX_TIMEOUT))
        limits = Limits(timeout=timeout, output_chars=RAW_OUTPUT)
        result = ctx.sandbox.run(list(argv), ctx.workspace.root, minimal_env(TOOL_ENV), limits)
        exit_code = None if result.timed_out else result.exit_code
        header = f"$ {' '.join(argv)}  (from {cmd.source})"
        if note:
            header += f"\n{note}"
        text = f"{header}\n{summarise(cmd.format, result.output, exit_code)}"
        return Observation(clip(text, ctx.output_limit), is_error=result.timed_out)

    def command_line(self, args: dict[str, Any], ctx: ToolContext) -> str:
        """The command this call would run, for approval's allowed-command check."""
        cmd = test_command(ctx.workspace.root, ctx.test_command)
        try:
            return shlex.join(_argv(cmd, args)[0]) if cmd is not None else ""
        except ToolError:
            return ""


def _argv(cmd: TestCommand, args: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    if args.get("target") in (None, ""):
        return cmd.argv, ""
    target = str_arg(args, "target").strip()
    if target.startswith("-") or "\0" in target or "\n" in target:
        raise ToolError("argument 'target' must be a test path or name, not an option")
    return narrowed(cmd, target)
