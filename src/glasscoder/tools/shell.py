"""The run_shell tool: one shell command in the workspace, through the chosen sandbox."""

from __future__ import annotations

import shutil
from typing import Any, ClassVar

from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.env import minimal_env
from glasscoder.tools.base import Observation, ToolContext, ToolError

MAX_TIMEOUT = 600  # seconds; longer jobs should be split or run outside the agent
DEFAULT_REFUSAL = "Commands cannot be run: no sandbox was chosen for this session."


class RunShell:
    name: ClassVar[str] = "run_shell"
    description: ClassVar[str] = (
        "Run a bash command in the workspace root and return its exit code and combined "
        "stdout/stderr. Processes it starts in the background are stopped when it returns; "
        f"the timeout is in seconds (at most {MAX_TIMEOUT})."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line, run with bash -c."},
            "timeout": {
                "type": "integer",
                "description": f"Seconds before the command is killed (max {MAX_TIMEOUT}).",
            },
            "description": {
                "type": "string",
                "description": "A few words on what the command is for, shown to the user.",
            },
        },
        "required": ["command"],
    }
    read_only: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = True

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        if ctx.sandbox is None:
            # Not a ToolError: nothing the model changes in its call can fix this.
            return Observation(ctx.sandbox_refusal or DEFAULT_REFUSAL, is_error=True)
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("argument 'command' must be a non-empty string")
        if "\0" in command:
            raise ToolError("argument 'command' contains a NUL byte; a command line cannot")
        timeout = _timeout(args.get("timeout"), ctx.shell_timeout)
        env = minimal_env()
        result = ctx.sandbox.run(
            [_shell(env), "-c", command],
            ctx.workspace.root,
            env,
            Limits(timeout=timeout, output_chars=ctx.output_limit),
        )
        return Observation(format_result(result, timeout), is_error=result.timed_out)


def _shell(env: dict[str, str]) -> str:
    # A bare name, not a resolved path: a sandbox may see a different filesystem.
    return "bash" if shutil.which("bash", path=env.get("PATH")) else "/bin/sh"


def _timeout(value: Any, default: float) -> float:
    if value is None:
        return min(default, MAX_TIMEOUT)
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)  # some models send numbers as strings
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ToolError(
            f"argument 'timeout' must be a positive number of seconds (max {MAX_TIMEOUT})"
        )
    return float(min(value, MAX_TIMEOUT))  # min first: float(10**400) overflows


def format_result(result: Result, timeout: float) -> str:
    """The command's output followed by one status line."""
    output = result.output if result.output else "(no output)\n"
    if not output.endswith("\n"):
        output += "\n"
    if result.timed_out:
        status = f"[timed out after {timeout:g} s; the process group was killed]"
    else:
        status = f"[exit code {result.exit_code}]"
    return output + status
