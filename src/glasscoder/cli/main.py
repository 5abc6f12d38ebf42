"""Command line: parse flags, build the objects, call the library. Heavy imports stay lazy."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import click

from glasscoder import __version__
from glasscoder.errors import UsageError, UserFacingError
from glasscoder.guard.approval import MODES

FORMATS = ("text", "json", "stream-json")


class _Main(click.Group):
    """`glasscoder "TASK"`: a first word that is no command is the task (peers' habit), so
    a typo of a command is not a task only when it is one word close to a command's name.
    Options may follow the task (`glasscoder "fix it" --model x`): they are moved before it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options, words = _split_options(self, args)
        if words and words[0] not in self.commands:
            args = options + words
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name in self.commands or name.startswith("-"):
            return super().resolve_command(ctx, args)
        if " " not in name.strip() and get_close_matches(name, self.commands, n=1, cutoff=0.8):
            return super().resolve_command(ctx, args)  # "reveiw": No such command, Did you mean
        return "task", _task_words, args


def _split_options(group: click.Group, args: list[str]) -> tuple[list[str], list[str]]:
    """The group's options (with their values) and the other words, each in order; after
    `--`, everything is words."""
    takes_value = {name for p in group.params if isinstance(p, click.Option)
                   and not p.is_flag and not p.count for name in p.opts}  # fmt: skip
    options: list[str] = []
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            words += args[i + 1 :]
            break
        if arg.startswith("-") and arg != "-":
            options.append(arg)
            if arg in takes_value and i + 1 < len(args):
                options.append(args[i + 1])
                i += 1
        else:
            words.append(arg)
        i += 1
    return options, words


def _repeatable(name: str, metavar: str, help_text: str) -> Any:
    """An option given any number of times; not given at all: None, so config keeps its say."""
    return click.option(name, metavar=metavar, multiple=True, help=f"{help_text} Repeatable.",
                        callback=lambda _c, _p, v: list(v) or None)  # fmt: skip


@click.command("task", hidden=True, context_settings={"ignore_unknown_options": False})
@click.argument("words", nargs=-1, required=True)
@click.pass_context
def _task_words(ctx: click.Context, words: tuple[str, ...]) -> None:
    parent = ctx.parent
    assert parent is not None  # only ever invoked as the group's subcommand
    _start(parent, " ".join(words).strip() or None, **parent.params)


@click.group(
    cls=_Main,
    subcommand_metavar="[TASK | COMMAND [ARGS]...]",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-p", "--prompt", "task", metavar="TASK", help="Run one task headless and exit.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
@click.option("--endpoint", metavar="URL", help="OpenAI-compatible base URL, e.g. .../v1.")
@click.option("--model", metavar="NAME", help="Model name the endpoint serves, or a .gguf file.")
@click.option("--api-key-env", metavar="VAR", help="Environment variable holding the API key.")
@click.option("--max-turns", type=click.IntRange(min=1), help="Stop after N model turns.")
@click.option("--approval", type=click.Choice(MODES), help="What runs without asking (README).")
@click.option(
    "--sandbox", metavar="NAME", help="auto (default), bwrap, landlock, seatbelt, or none (unsafe)."
)
@_repeatable(
    "--allow-net", "HOST[:PORT]", "Let sandboxed commands reach HOST (port 443/80 unless given)."
)
@click.option(
    "--resume",
    metavar="[SESSION_ID]",
    is_flag=False,
    flag_value="",
    help="Continue a saved session; with no id, pick one of this workspace's.",
)
@click.option(
    "-c", "--continue", "continue_", is_flag=True, help="Continue this workspace's latest session."
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour on the terminal (auto follows the terminal and NO_COLOR).",
)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (embedded model).")
@click.option("--context-size", type=click.IntRange(min=1), help="Context tokens (embedded).")
@click.option("--gpu-layers", type=click.IntRange(min=-1), help="Layers on the GPU; -1: all.")
@click.option("--cpu-moe", is_flag=True, default=None, help="Keep all expert tensors in RAM.")
@click.option(
    "--n-cpu-moe", type=click.IntRange(min=0), metavar="N", help="First N layers' experts in RAM."
)
@_repeatable(
    "--override-tensor", "REGEX=TYPE", "Put tensors matching REGEX in buffer type TYPE (e.g. CPU)."
)
@click.option("--pull", is_flag=True, help="Download and verify --model NAME first if needed.")
@click.option("--trust-unpinned", is_flag=True, help="With --pull: accept an unpinned entry.")
@click.option(
    "--memory-check/--no-memory-check", default=None, help="Refuse a model that will not fit."
)
@click.version_option(__version__, "--version", prog_name="glasscoder")
@click.pass_context
def cli(ctx: click.Context, **opts: Any) -> None:
    """glasscoder: a coding agent whose every byte to the model is on record.

    \b
    Interactive:  glasscoder            (or: glasscoder "explain this repo")
    Headless:     glasscoder -p "fix the failing test" --endpoint http://127.0.0.1:8000/v1
    """
    if ctx.invoked_subcommand is not None:
        return
    _start(ctx, None, **opts)


def _start(ctx: click.Context, words: str | None, **opts: Any) -> None:
    """Interactive on a terminal unless -p; headless as before otherwise."""
    opts = dict(opts)
    prompt = (opts.pop("task") or "").strip() or None  # a blank -p is no task at all
    on_terminal = sys.stdin.isatty() and sys.stdout.isatty()
    if prompt is None and on_terminal:  # the SDK loads once the prompt is up (interactive/app)
        from glasscoder.cli.interactive import run_interactive

        sys.exit(run_interactive(words, opts))
    task = prompt or words
    if task is None and not sys.stdin.isatty():
        # Bytes, decoded leniently: under a UTF-8 locale a stray byte would raise.
        task = sys.stdin.buffer.read().decode("utf-8", "replace").strip() or None
    opts["resume"] = _headless_resume(opts.pop("resume"), opts.pop("continue_"), opts["cwd"])
    opts.pop("color")
    if task is None and not opts["resume"]:
        raise UsageError('No task given. Pass -p "TASK" (or pipe it on stdin), or --resume ID.')
    _preload_model_sdk(None if opts["resume"] else opts["cwd"] or Path.cwd())
    from glasscoder.cli.run import run_headless

    sys.exit(run_headless(task, opts))


def _headless_resume(resume: str | None, continue_: bool, cwd: Path | None) -> str | None:
    """The session a headless run continues: --resume ID, or -c's latest of the workspace."""
    if resume == "":
        raise UsageError(
            "--resume without an id needs a terminal to pick on; pass --resume ID "
            "(`glasscoder sessions` lists them), or -c for the latest."
        )
    if continue_ and resume:
        raise UsageError("Pass either -c/--continue or --resume ID, not both.")
    if not continue_:
        return resume
    from glasscoder.agent.session import latest_session

    latest = latest_session((cwd or Path.cwd()).resolve())
    if latest is None:
        raise UsageError("No earlier session in this workspace to continue; start one with "
                         'glasscoder "TASK" or -p "TASK".')  # fmt: skip
    return latest


def _preload_model_sdk(workspace: Path | None) -> None:
    """Importing the model SDK takes ~0.4 s and probing the sandbox ~50 ms (a subprocess);
    overlap both with settings, workspace and session. The probe needs the workspace, where
    bwrap must not be taken from; a resumed session's is not known yet (None: no early
    probe)."""
    import threading

    def load() -> None:
        from glasscoder.models.openai_compat import import_sdk

        import_sdk()

    def probe() -> None:
        from glasscoder.sandbox.choose import bwrap_status

        bwrap_status(workspace)

    # Not a daemon: an early exit (a usage error) waits the few ms for the probe's subprocess
    # rather than killing the thread inside it, which prints lock warnings on the way out.
    if workspace is not None:
        threading.Thread(target=probe).start()
    threading.Thread(target=load, daemon=True).start()


@cli.group()
def audit() -> None:
    """Check and read the audit log of what was sent to the model."""


@audit.command("verify")
@click.argument("session_id", required=False)
def audit_verify(session_id: str | None) -> None:
    """Check the hash chain of one session's log (all sessions when none is named)."""
    from glasscoder.cli.audit import verify_command

    sys.exit(verify_command(session_id))


@audit.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a request (--full: raw).")
@click.option("--full", is_flag=True, help="Print every request whole, not only what was new.")
def audit_show(session_id: str, as_json: bool, full: bool) -> None:
    """Print what was sent to the model, request by request."""
    from glasscoder.cli.audit import show_command

    show_command(session_id, as_json=as_json, full=full)


@audit.command("export")
@click.option("--since", metavar="DATE", help="Only records at or after DATE (ISO date or time).")
def audit_export(since: str | None) -> None:
    """Every session's records as JSON lines, each with its session id (docs/audit.md)."""
    from glasscoder.cli.audit import export_command

    sys.exit(export_command(since))


@audit.command("forget")
@click.argument("session_id")
def audit_forget(session_id: str) -> None:
    """Acknowledge a session folder you removed on purpose, so `audit verify` passes again."""
    from glasscoder.cli.audit import forget_command

    forget_command(session_id)


@cli.group()
def models() -> None:
    """Known models, GGUF inspection and checks, commands to serve a model."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(as_json: bool) -> None:
    """Known models: size, quantization, RAM needed, licence, serving mode, pin."""
    from glasscoder.cli.models import list_command

    list_command(as_json)


@models.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_inspect(path: Path, as_json: bool) -> None:
    """Read a GGUF header: architecture, experts, memory per token, chat template checks."""
    from glasscoder.cli.models import inspect_command

    inspect_command(path, as_json)


@models.command("verify")
@click.argument("target", metavar="[NAME|PATH]", required=False)
@click.option(
    "--name", metavar="NAME", help="Registry model to check PATH against (default: by file name)."
)
def models_verify(target: str | None, name: str | None) -> None:
    """Check a pulled model (NAME), a GGUF file (PATH) or every pulled model against its pin
    or first-use hash (exit 1 on a mismatch)."""
    from glasscoder.cli.models import verify_target_command

    sys.exit(verify_target_command(target, name))


@models.command("log")
@click.option("--verify", "check", is_flag=True, help="Check the hash chain (exit 1 if broken).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw records.")
def models_log(check: bool, as_json: bool) -> None:
    """Show the record of every pull (pulls.jsonl), or verify its hash chain."""
    from glasscoder.cli.models import log_command

    sys.exit(log_command(check, as_json))


@models.command("pull")
@click.argument("name")
@click.option(
    "--trust-unpinned",
    is_flag=True,
    help="Download an unpinned entry and record the hash seen (trust on first use).",
)
@click.option("--yes", is_flag=True, help="Download a file over 1 GB without asking.")
@click.option(
    "--hf-token-env",
    "token_env",
    metavar="VAR",
    help="Environment variable holding a hub token (default: no token is sent).",
)
def models_pull(name: str, trust_unpinned: bool, yes: bool, token_env: str | None) -> None:
    """Download NAME's file from the hub (HF_ENDPOINT), verify its SHA-256, record the pull."""
    from glasscoder.cli.models import pull_command

    pull_command(name, trust_unpinned, yes, token_env)


@models.command("serve-cmd")
@click.argument("name")
@click.option("--engine", type=click.Choice(["vllm", "sglang"]), default="vllm", show_default=True)
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), help="Server port (engine default).")
@click.option("--context-length", "context", type=click.IntRange(min=1024), help="Tokens.")
def models_serve_cmd(
    name: str, engine: str, gpus: int, port: int | None, context: int | None
) -> None:
    """Print the command that serves NAME on GPUs, and the matching glasscoder line."""
    from glasscoder.cli.models import serve_command

    serve_command(name, engine, gpus, port, context)


@cli.group()
def sandbox() -> None:
    """What confines the commands the model runs; try a command under it."""


_SANDBOX_OPTION = click.option(
    "--sandbox",
    "backend",
    metavar="NAME",
    help="auto, bwrap, landlock, seatbelt or none (default: your config).",
)


@sandbox.command("check")
@_SANDBOX_OPTION
def sandbox_check(backend: str | None) -> None:
    """Which backend is active, what it protects, what is degraded and the fix (exit 1: none)."""
    from glasscoder.cli.sandbox import check_command

    sys.exit(check_command(backend))


@sandbox.command("run", context_settings={"ignore_unknown_options": True})
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
@_SANDBOX_OPTION
@click.option(
    "--allow-net", metavar="HOST[:PORT]", multiple=True, help="Reachable host; repeatable."
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def sandbox_run(
    cwd: Path | None, backend: str | None, allow_net: tuple[str, ...], argv: tuple[str, ...]
) -> None:
    """Run one command exactly as the agent would: glasscoder sandbox run -- CMD ARGS..."""
    from glasscoder.cli.sandbox import run_command

    sys.exit(run_command(list(argv), cwd, backend, list(allow_net)))


@cli.command("review")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--diff", metavar="REV", help="Review only what changed since git revision REV.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True)  # fmt: skip
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "note", "never"]),
              default="never", show_default=True,
              help="Exit 1 on findings at or above this.")  # fmt: skip
@click.option("--fix", is_flag=True, help="Hand the findings to the agent as a task.")
@click.option("--endpoint", metavar="URL", help="Model endpoint for the model layer.")
@click.option("--model", metavar="NAME", help="Model name the endpoint serves, or a .gguf file.")
@click.option("--no-model", is_flag=True, help="Static layer only, even if a model is configured.")
@click.option(
    "--sandbox", metavar="NAME", help="Where analyzers run: auto, bwrap, landlock, seatbelt, none."
)
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
def review(paths: tuple[Path, ...], fmt: str, **opts: Any) -> None:
    """Find bugs: the project's analyzers, and a model when one is configured."""
    from glasscoder.cli.review import review_command

    sys.exit(review_command(list(paths), {"format": fmt, **opts}))


@cli.command("map")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--tokens", type=click.IntRange(min=1), help="Budget (default: map_tokens, 1000).")
@click.option("--focus", multiple=True, metavar="FILE", help="A file in play (repeatable).")
def map_(path: Path | None, tokens: int | None, focus: tuple[str, ...]) -> None:
    """Print the repo map: the most relevant definitions, ranked toward the focus files."""
    from glasscoder.cli.map import map_command

    map_command(path, tokens, focus)


@cli.command("doctor")
@click.option(
    "--model",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.gguf",
    help="Model to test with (default: the smallest found).",
)
def doctor(model: Path | None) -> None:
    """Check the embedded backend: llama.cpp's CPU features, a model loaded and run in the
    worker, the sandbox; each problem with its fix (exit 1 on any)."""
    from glasscoder.cli.doctor import doctor_command

    sys.exit(doctor_command(model))


@cli.command("completion")
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (see README, "Shell completion")."""
    from glasscoder.cli.completion import completion_command

    completion_command(shell)


@cli.command("undo")
@click.option("--session", "session_id", metavar="ID", help="Default: this workspace's latest.")
@click.option("--turns", type=click.IntRange(min=1), default=1, show_default=True,
              help="Changing turns to take back.")  # fmt: skip
@click.option("--all", "to_start", is_flag=True, help="Back to the session's start.")
@click.option("--redo", is_flag=True, help="Take back the latest undo.")
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
def undo(session_id: str | None, turns: int, to_start: bool, redo: bool,
         cwd: Path | None) -> None:  # fmt: skip
    """Restore the files as they were before a session's last changing turn (or N, or all);
    prints the diff it applied (exit 1: some files had to be left as they are)."""
    from glasscoder.cli.undo import undo_command

    sys.exit(undo_command(cwd, session_id, turns, to_start, redo))


@cli.command("checkpoints")
@click.argument("session_id", required=False)
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
def checkpoints(session_id: str | None, cwd: Path | None) -> None:
    """List a session's checkpoints (default: this workspace's latest session)."""
    from glasscoder.cli.undo import checkpoints_command

    checkpoints_command(cwd, session_id)


@cli.command("sessions")
def sessions() -> None:
    """List saved sessions."""
    from glasscoder.agent.session import list_sessions
    from glasscoder.config import data_home

    for meta in list_sessions(data_home() / "sessions"):
        task = (meta.get("task") or "").splitlines()[0][:60] if meta.get("task") else ""
        click.echo(
            f"{meta.get('id')}  {meta.get('status', '?'):7}  {meta.get('workspace', '')}  {task}"
        )


def main() -> None:
    try:
        cli.main(prog_name="glasscoder", standalone_mode=False)
    except click.exceptions.Abort:
        _second_interrupt_ends()
        click.echo("glasscoder: aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except UserFacingError as e:
        click.echo(f"glasscoder: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _second_interrupt_ends()
        click.echo("glasscoder: interrupted.", err=True)
        sys.exit(130)
    except Exception as e:  # a bug of ours: say so plainly, traceback only on request
        if os.environ.get("GLASSCODER_DEBUG"):
            raise
        click.echo(
            f"glasscoder: internal error ({type(e).__name__}: {e}). "
            "Set GLASSCODER_DEBUG=1 for the traceback and please report it.",
            err=True,
        )
        sys.exit(1)


def _second_interrupt_ends() -> None:
    """The first Ctrl-C is being handled: another ends the process at once, rather than
    raising again while the exit waits for a start-up thread (a traceback on the way out)."""
    with contextlib.suppress(ValueError):  # called outside the main thread (tests)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
