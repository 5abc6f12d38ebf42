"""`glasscoder completion bash|zsh|fish`: print the shell's completion script.

The script is click's own (the one `_GLASSCODER_COMPLETE=bash_source glasscoder` prints):
it calls `glasscoder` with _GLASSCODER_COMPLETE set, and click answers with the commands and
options that fit what was typed so far. Printed, not installed: the person decides where it
goes (see README, "Shell completion").
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from glasscoder.errors import UsageError

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "glasscoder"
COMPLETE_VAR = "_GLASSCODER_COMPLETE"


def completion_script(shell: str) -> str:
    from glasscoder.cli.main import cli

    complete = get_completion_class(shell) if shell in SHELLS else None
    if complete is None:
        raise UsageError(f"No completion for {shell!r}; choose one of {', '.join(SHELLS)}.")
    return complete(cli, {}, PROG_NAME, COMPLETE_VAR).source()


def completion_command(shell: str) -> None:
    click.echo(completion_script(shell))
