"""Wire one headless run: settings, workspace, session, audit, model, sandbox, agent."""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from glasscoder.agent.context import system_prompt
from glasscoder.agent.loop import Agent, Outcome, RunLimits, Terminated, terminate_as_interrupt
from glasscoder.agent.session import Session
from glasscoder.cli.output import make_output
from glasscoder.config import Settings, data_home, load_settings
from glasscoder.errors import UsageError, UserFacingError
from glasscoder.guard.approval import Approval
from glasscoder.guard.audit import AuditError, AuditLog
from glasscoder.guard.audit_report import summarize, summary_line
from glasscoder.guard.body_redaction import redact_body, redact_messages
from glasscoder.guard.known_secrets import collect_known_secrets
from glasscoder.guard.placeholders import PlaceholderGuard
from glasscoder.guard.redact import Redactor
from glasscoder.ignore import SECRET_FILES
from glasscoder.models.base import Usage
from glasscoder.tools.base import ToolContext
from glasscoder.workspace import Workspace

EXIT_CODES = {"done": 0, "failed": 1, "error": 3}
NO_SANDBOX_REFUSAL = (
    "Commands are disabled: no sandbox is available for this session. Only the user can allow "
    "commands (by installing bubblewrap, or running glasscoder with --sandbox none). Continue "
    "with the file tools, or tell the user which command to run."
)
UNSANDBOXED_NOTICE = (
    "WARNING: commands run WITHOUT a sandbox (--sandbox none, your explicit choice): they can "
    "read and write anything your user can."
)


def run_headless(task: str | None, opts: dict[str, Any]) -> int:
    out = make_output(opts.pop("output_format"))
    sessions_dir = data_home() / "sessions"
    resume = opts.pop("resume")
    session = Session.load(sessions_dir, resume) if resume else None
    for warning in session.warnings if session else []:
        out.notice(f"glasscoder: {warning}")
    root = workspace_root(opts.pop("cwd"), session)
    pull, trust_unpinned = opts.pop("pull", False), opts.pop("trust_unpinned", False)
    settings = load_settings(root, opts)
    for warning in settings.warnings:
        out.notice(f"glasscoder: {warning}")
    choose_model_backend(settings, out, pull, trust_unpinned)
    if problem := sandbox_choice(settings, root).problem:  # `--sandbox bwrap` unavailable: raises
        out.notice(f"glasscoder: commands are disabled: {problem}")
    if degraded := sandbox_choice(settings, root).degraded:  # the landlock fallback was taken
        out.notice(f"glasscoder: {degraded}")
    workspace = Workspace(root, settings.ignore, deny=(*SECRET_FILES, *settings.deny))
    started_here = session is None
    session = session or new_session(sessions_dir, workspace, settings, task)
    try:
        with terminate_as_interrupt():  # SIGTERM saves the session as Ctrl-C does
            return _run_session(session, workspace, settings, task, out)
    except KeyboardInterrupt as e:  # while setting up (a model loading): the agent not started
        by = "SIGTERM" if isinstance(e, Terminated) else "the user"
        outcome = Outcome("failed", "interrupted", f"Interrupted by {by}.", 0, Usage())
        record_outcome(session, outcome)
        out.final(outcome, session.id)
        return EXIT_CODES[outcome.status]
    except UserFacingError:  # setup refused (a file llama.cpp cannot load): not left "running"
        if started_here:  # a resumed session keeps the status its last run gave it
            session.meta.update(status="error", reason="not_started")
            session.save_meta()
        raise


def _run_session(
    session: Session, workspace: Workspace, settings: Settings, task: str | None, out: Any
) -> int:
    root = workspace.root
    task = task or _task_not_started(session)
    audit = open_audit(session, settings)
    audit_start = audit.next_seq  # a resumed session's log holds earlier runs too
    agent = build_agent(settings, workspace, session, audit, out)
    if note := getattr(agent.model, "placement_note", None):  # the embedded model's overrides
        out.notice(f"glasscoder: {note}")
    if settings.sandbox == "none":
        out.notice(UNSANDBOXED_NOTICE)
    proxy = net_proxy(settings, agent, audit, out)
    out.event({"type": "system", "subtype": "init", "session_id": session.id,
               "model": settings.model, "endpoint": settings.endpoint, "cwd": str(root),
               "approval": settings.approval, "sandbox": sandbox_choice(settings, root).name,
               "tools": list(agent.tools)})  # fmt: skip
    try:
        outcome = agent.run(task)
    finally:
        if proxy is not None:
            proxy.close()
        close_agent(agent)
    record_outcome(session, outcome)
    out.final(outcome, session.id, egress_summary(session, audit_start, out))
    return EXIT_CODES[outcome.status]


def choose_backend(settings: Settings, out: Any) -> None:
    """Endpoint or embedded GGUF, as a run picks it (for `review`; no --pull there)."""
    choose_model_backend(settings, out)


def build_model(settings: Settings, workspace: Workspace, audit: AuditLog, out: Any) -> Any:
    """The model exactly as a run builds it: the session's audit log, this workspace's
    redactor, the one egress path. `review` uses it so its requests are treated the same."""
    return _model(settings, audit, _redactor(workspace, out))


def egress_summary(session: Session, start: int, out: Any) -> dict[str, Any] | None:
    """The run's one line on what left the machine; a damaged log must not hide the result."""
    try:
        summary = summarize(session.audit_path, start=start)
    except AuditError as exc:
        out.notice(f"glasscoder: {exc}")
        return None
    out.notice(summary_line(summary))
    return asdict(summary)


def choose_model_backend(
    settings: Settings, out: Any, pull: bool = False, trust_unpinned: bool = False
) -> None:
    """An existing .gguf file runs embedded (settings.endpoint cleared); else an endpoint.
    A registry name not yet pulled is pulled only with --pull (models/prepare.py)."""
    from glasscoder.models import prepare

    prepare.check_pull_flags(settings, pull, trust_unpinned)
    gguf = _gguf_file(settings)
    if gguf is None and pull:
        gguf = prepare.pull_for_run(settings, trust_unpinned, out.notice)
    if gguf is not None:
        from glasscoder.models.llamacpp import check_llama_cpp

        check_llama_cpp()  # before a session exists: a missing extra is a usage error
        from glasscoder.models.placement import check_buffer_types

        check_buffer_types(settings.override_tensor)  # likewise an unknown buffer type name
        if settings.endpoint:
            out.notice(f"glasscoder: running {gguf.name} embedded; the endpoint is not used.")
        prepare.check_memory(settings, gguf, out.notice)  # before LlamaCppModel maps it
        settings.endpoint, settings.model = None, str(gguf)
        return
    if settings.endpoint:
        return
    from glasscoder.models import registry

    if registry.find(settings.model) is not None:
        raise prepare.not_pulled_error(settings.model)
    raise UsageError(
        "No model endpoint configured and no model file given. Pass --model PATH.gguf to run "
        "a GGUF file in-process, or --endpoint URL for a server (e.g. http://127.0.0.1:8000/v1 "
        "for vLLM or SGLang, http://127.0.0.1:8080/v1 for llama.cpp's server), or set them "
        "in your config. `glasscoder models list` shows the models glasscoder can pull or serve."
    )


def _gguf_file(settings: Settings) -> Path | None:
    if not settings.model.strip().lower().endswith(".gguf"):
        return None if settings.endpoint else _pulled_file(settings.model)
    path = Path(settings.model).expanduser()
    if path.is_file():
        return path.resolve()
    if settings.endpoint:
        return None  # a name the server serves that happens to end in .gguf
    raise UsageError(f"Model file '{settings.model}' does not exist; check the path.")


def _pulled_file(name: str) -> Path | None:
    """A registry name whose file `models pull` fetched. Only a verified file gets that name
    (pull renames it into place after the hash check), so it is not re-hashed here; nothing is
    downloaded at run time."""
    from glasscoder.models import registry
    from glasscoder.models.pull import pulled_path

    spec = registry.find(name)
    return pulled_path(spec) if spec is not None else None


def workspace_root(cwd: Path | None, session: Session | None) -> Path:
    if cwd is None and session is not None:
        cwd = Path(session.meta["workspace"])
    root = (cwd or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"Workspace '{root}' is not a directory; pass --cwd DIR.")
    if session is not None and str(root) != session.meta.get("workspace"):
        raise UsageError(
            f"Session {session.id} belongs to {session.meta.get('workspace')}; "
            "run it there or leave out --cwd."
        )
    return root


def new_session(
    sessions_dir: Path, workspace: Workspace, settings: Settings, task: str | None
) -> Session:
    session = Session.create(
        sessions_dir,
        {"workspace": str(workspace.root), "endpoint": settings.endpoint,
         "model": settings.model, "approval": settings.approval, "task": task or "",
         "sandbox": sandbox_choice(settings, workspace.root).name, "status": "running"},
    )  # fmt: skip
    commands = commands_line(settings, workspace.root)
    session.append(
        {"role": "system", "content": system_prompt(workspace, settings.approval, commands)}
    )
    return session


def commands_line(settings: Settings, root: Path) -> str:
    if sandbox_choice(settings, root).sandbox is None:
        return "disabled (no sandbox available); run_shell will refuse"
    if settings.approval == "plan":
        return "not available in plan mode"
    if settings.approval in ("ask", "auto-edit"):
        allowed = ", ".join(settings.allow_commands) or "none"
        return (f"the user is asked before each command, except allowed ones ({allowed}); "
                "in a headless run nobody can answer, so only those run")  # fmt: skip
    return "run_shell runs commands in the workspace, sandboxed"


def open_audit(session: Session, settings: Settings) -> AuditLog:
    try:
        audit = AuditLog(session.audit_path)
        if settings.sandbox == "none":
            audit.append("notice", {"message": "commands run without a sandbox (--sandbox none)"})
    except AuditError as exc:  # a resumed session's log, damaged (a crash mid-record) or cut
        raise AuditError(f"{exc} Session {session.id} cannot be resumed without it; to go on "
                         "with the task, start a new session (run glasscoder without "
                         "--resume).") from None  # fmt: skip
    return audit


def build_agent(
    settings: Settings,
    workspace: Workspace,
    session: Session,
    audit: AuditLog,
    out: Any,
    ask: Any = None,
) -> Agent:
    from glasscoder.tools.registry import default_tools

    redactor = _redactor(workspace, out)
    model = _model(settings, audit, redactor)
    ctx = tool_context(settings, workspace, PlaceholderGuard(redactor, settings.restore_secrets))
    limits = RunLimits(settings.max_turns, settings.max_time, settings.max_tokens)
    approval = Approval(settings.approval, settings.allow_commands,
                        unsandboxed_chosen=settings.sandbox == "none")  # fmt: skip
    from glasscoder.repomap.build import first_turn_map

    intro = first_turn_map(workspace, settings.map_tokens, out.notice, settings.map_time)
    emit = _audited_compactions(out.event, audit)
    return Agent(model, default_tools(), ctx, approval, session, limits, emit, intro, ask,
                 settings.context_window, _checkpoints(settings, workspace, out))  # fmt: skip


def _checkpoints(settings: Settings, workspace: Workspace, out: Any) -> Any:
    """The workspace's checkpoint store (agent/undo.py), or None (off, or it cannot open)."""
    if not settings.checkpoints:
        return None
    from glasscoder.agent.checkpoints import CheckpointError
    from glasscoder.agent.undo import open_checkpoints

    try:
        return open_checkpoints(workspace.root, settings)
    except (CheckpointError, OSError) as e:
        out.notice(f"glasscoder: no checkpoints (so no undo) in this session: {e}")
        return None


def close_agent(agent: Agent) -> None:
    """The model's worker stopped, the checkpoints' cache saved."""
    if close_model := getattr(agent.model, "close", None):
        close_model()
    if agent.checkpoints is not None:
        agent.checkpoints.close()


def _audited_compactions(emit: Any, audit: AuditLog) -> Any:
    """Events as they go to the output; a compaction also to the audit log (what the model
    stops seeing is on record as much as what it sees)."""

    def both(event: dict[str, Any]) -> None:
        if event.get("type") == "compaction":
            audit.append("compaction", {k: v for k, v in event.items() if k != "type"})
        emit(event)

    return both


def tool_context(
    settings: Settings, workspace: Workspace, placeholders: PlaceholderGuard | None = None
) -> ToolContext:
    """What the tools run with: the sandbox, limits, the linter after edits."""
    ctx = ToolContext(
        workspace=workspace,
        sandbox=_sandbox(settings, workspace.root),
        sandbox_refusal=NO_SANDBOX_REFUSAL,
        shell_timeout=settings.shell_timeout,
        output_limit=settings.output_limit,
        placeholders=placeholders,
        test_command=settings.test_command,
    )
    if ctx.sandbox is not None and settings.lint_on_edit:
        from glasscoder.languages.feedback import EditFeedback

        ctx.feedback = EditFeedback(workspace.root, ctx.sandbox)
    return ctx


def _redactor(workspace: Workspace, out: Any) -> Redactor:
    """The session's redactor: known secret values of this machine and workspace, patterns."""
    redactor = Redactor(collect_known_secrets(workspace.root))
    redactor.warm()  # the pattern library starts while the first request is being built
    if redactor.degraded:
        out.notice(f"glasscoder: secret redaction is degraded: {redactor.degraded}")
    return redactor


def _model(settings: Settings, audit: Any, redactor: Redactor) -> Any:
    if settings.endpoint is None:  # choose_model_backend left a GGUF file in settings.model
        from glasscoder.models.llamacpp import LlamaCppModel

        sampling = {k: v for k, v in (("temperature", settings.temperature),
                                      ("top_p", settings.top_p)) if v is not None}  # fmt: skip
        return LlamaCppModel(
            settings.model, audit, n_ctx=settings.context_size, n_threads=settings.threads,
            n_gpu_layers=settings.gpu_layers, seed=settings.seed,
            max_tokens=settings.max_output_tokens, cpu_moe=settings.cpu_moe,
            n_cpu_moe=settings.n_cpu_moe, override_tensor=settings.override_tensor,
            redact=partial(redact_messages, redactor=redactor), **sampling,
        )  # fmt: skip
    from glasscoder.models.openai_compat import OpenAICompatModel

    return OpenAICompatModel(
        endpoint=settings.endpoint,
        model=settings.model,
        api_key=os.environ.get(settings.api_key_env),
        api_key_env=settings.api_key_env,
        audit=audit,
        stream=settings.stream,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_output_tokens,
        timeout=settings.request_timeout,
        first_token_timeout=settings.first_token_timeout,
        redact=partial(redact_body, redactor=redactor),
    )


def net_proxy(settings: Settings, agent: Agent, audit: AuditLog, out: Any, ask: Any = None) -> Any:
    """The allow-list's proxy for this session, its decisions in the audit log; None when the
    list is empty and nobody can be asked about other hosts, or the backend cannot use it
    (`none`: a notice that nothing is controlled)."""
    if not settings.allow_net and ask is None:
        return None
    from glasscoder.sandbox import netproxy

    sandbox = agent.ctx.sandbox
    proxy = netproxy.start_for(sandbox, settings.allow_net, partial(audit.append, "net"), ask)
    if proxy is None and sandbox is not None and settings.allow_net:
        out.notice(f"glasscoder: {netproxy.unapplied(sandbox.name)}")
    return proxy


def _sandbox(settings: Settings, root: Path) -> Any:
    return sandbox_choice(settings, root).sandbox


def sandbox_choice(settings: Settings, root: Path) -> Any:
    """sandbox/choose.py's Choice for the workspace root; cheap to repeat (bwrap is probed
    once per process and workspace)."""
    from glasscoder.sandbox.choose import choose

    return choose(settings.sandbox, deny=(*SECRET_FILES, *settings.deny), root=root)


def _task_not_started(session: Session) -> str | None:
    """The task of a session interrupted before the agent wrote it down: resumed, it starts."""
    if any(m.get("role") != "system" for m in session.messages):
        return None
    return session.meta.get("task") or None


def record_outcome(session: Session, outcome: Outcome) -> None:
    session.meta.update(
        status=outcome.status, reason=outcome.reason, turns=outcome.turns,
        files_changed=outcome.files_changed,
    )  # fmt: skip
    session.save_meta()
