"""Command line: parse flags, build the objects, call the library. Heavy imports stay lazy."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from glasscoder import __version__
from glasscoder.errors import UsageError, UserFacingError

FORMATS = ("text", "json", "stream-json")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--prompt", "task", metavar="TASK", help="Run one task headless and exit.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--cwd", type=click.Path(file_okay=False, path_type=Path), help="Workspace root.")
@click.option("--endpoint", metavar="URL", help="OpenAI-compatible base URL, e.g. .../v1.")
@click.option("--model", metavar="NAME", help="Model name the endpoint serves, or a .gguf file.")
@click.option("--api-key-env", metavar="VAR", help="Environment variable holding the API key.")
@click.option("--max-turns", type=click.IntRange(min=1), help="Stop after N model turns.")
@click.option("--approval", type=click.Choice(["plan", "auto-edit", "auto"]), help="What may run.")
@click.option(
    "--sandbox", metavar="NAME", help="auto (default), bwrap, landlock, seatbelt, or none (unsafe)."
)
@click.option(
    "--allow-net",
    metavar="HOST[:PORT]",
    multiple=True,
    callback=lambda _c, _p, v: list(v) or None,  # not given: None, so config keeps its say
    help="Let sandboxed commands reach HOST (port 443/80 unless given); repeatable.",
)
@click.option("--resume", metavar="SESSION_ID", help="Continue a saved session.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (embedded model).")
@click.option("--context-size", type=click.IntRange(min=1), help="Context tokens (embedded).")
@click.option("--gpu-layers", type=click.IntRange(min=-1), help="Layers on the GPU; -1: all.")
@click.option("--cpu-moe", is_flag=True, default=None, help="Keep all expert tensors in RAM.")
@click.option(
    "--n-cpu-moe", type=click.IntRange(min=0), metavar="N", help="First N layers' experts in RAM."
)
@click.option(
    "--override-tensor",
    metavar="REGEX=TYPE",
    multiple=True,
    callback=lambda _c, _p, v: list(v) or None,  # not given: None, so config keeps its say
    help="Put tensors matching REGEX in buffer type TYPE (e.g. CPU); repeatable.",
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

    Run a task:  glasscoder -p "fix the failing test" --endpoint http://127.0.0.1:8000/v1
    """
    if ctx.invoked_subcommand is not None:
        return
    _preload_model_sdk(None if opts["resume"] else opts["cwd"] or Path.cwd())
    from glasscoder.run import run_headless

    task = (opts.pop("task") or "").strip() or None  # a blank -p is no task at all
    if task is None and not sys.stdin.isatty():
        # Bytes, decoded leniently: under a UTF-8 locale a stray byte would raise.
        task = sys.stdin.buffer.read().decode("utf-8", "replace").strip() or None
    if task is None and not opts["resume"]:
        raise UsageError('No task given. Pass -p "TASK" (or pipe it on stdin), or --resume ID.')
    sys.exit(run_headless(task, opts))


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
    from glasscoder.audit_cli import verify_command

    sys.exit(verify_command(session_id))


@audit.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a request (--full: raw).")
@click.option("--full", is_flag=True, help="Print every request whole, not only what was new.")
def audit_show(session_id: str, as_json: bool, full: bool) -> None:
    """Print what was sent to the model, request by request."""
    from glasscoder.audit_cli import show_command

    show_command(session_id, as_json=as_json, full=full)


@audit.command("export")
@click.option("--since", metavar="DATE", help="Only records at or after DATE (ISO date or time).")
def audit_export(since: str | None) -> None:
    """Every session's records as JSON lines, each with its session id (docs/audit.md)."""
    from glasscoder.audit_cli import export_command

    sys.exit(export_command(since))


@audit.command("forget")
@click.argument("session_id")
def audit_forget(session_id: str) -> None:
    """Acknowledge a session folder you removed on purpose, so `audit verify` passes again."""
    from glasscoder.audit_cli import forget_command

    forget_command(session_id)


@cli.group()
def models() -> None:
    """Known models, GGUF inspection and checks, commands to serve a model."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(as_json: bool) -> None:
    """Known models: size, quantization, RAM needed, licence, serving mode, pin."""
    from glasscoder.models_cli import list_command

    list_command(as_json)


@models.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_inspect(path: Path, as_json: bool) -> None:
    """Read a GGUF header: architecture, experts, memory per token, chat template checks."""
    from glasscoder.models_cli import inspect_command

    inspect_command(path, as_json)


@models.command("verify")
@click.argument("target", metavar="[NAME|PATH]", required=False)
@click.option(
    "--name", metavar="NAME", help="Registry model to check PATH against (default: by file name)."
)
def models_verify(target: str | None, name: str | None) -> None:
    """Check a pulled model (NAME), a GGUF file (PATH) or every pulled model against its pin
    or first-use hash (exit 1 on a mismatch)."""
    from glasscoder.models_cli import verify_target_command

    sys.exit(verify_target_command(target, name))


@models.command("log")
@click.option("--verify", "check", is_flag=True, help="Check the hash chain (exit 1 if broken).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw records.")
def models_log(check: bool, as_json: bool) -> None:
    """Show the record of every pull (pulls.jsonl), or verify its hash chain."""
    from glasscoder.models_cli import log_command

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
    from glasscoder.models_cli import pull_command

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
    from glasscoder.models_cli import serve_command

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
    from glasscoder.sandbox_cli import check_command

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
    from glasscoder.sandbox_cli import run_command

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
    from glasscoder.review_cli import review_command

    sys.exit(review_command(list(paths), {"format": fmt, **opts}))


@cli.command("map")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--tokens", type=click.IntRange(min=1), help="Budget (default: map_tokens, 1000).")
@click.option("--focus", multiple=True, metavar="FILE", help="A file in play (repeatable).")
def map_(path: Path | None, tokens: int | None, focus: tuple[str, ...]) -> None:
    """Print the repo map: the most relevant definitions, ranked toward the focus files."""
    from glasscoder.map_cli import map_command

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
    from glasscoder.doctor_cli import doctor_command

    sys.exit(doctor_command(model))


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
        cli.main(standalone_mode=False)
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
