"""Wire one headless run: settings, workspace, session, audit, model, sandbox, agent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from glasscoder.agent.context import system_prompt
from glasscoder.agent.loop import Agent, Outcome, RunLimits
from glasscoder.agent.session import Session
from glasscoder.config import Settings, data_home, load_settings
from glasscoder.errors import UsageError
from glasscoder.guard.approval import Approval
from glasscoder.output import make_output
from glasscoder.tools.base import ToolContext
from glasscoder.workspace import Workspace

EXIT_CODES = {"done": 0, "failed": 1, "error": 3}
NO_SANDBOX_REFUSAL = (
    "Commands are disabled: no sandbox is configured for this session. Only the user can allow "
    "commands (by running glasscoder with --sandbox none). Continue with the file tools, or tell "
    "the user which command to run."
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
    root = _workspace_root(opts.pop("cwd"), session)
    settings = load_settings(root, opts)
    for warning in settings.warnings:
        out.notice(f"glasscoder: {warning}")
    _choose_backend(settings, out)
    workspace = Workspace(root, settings.ignore)
    session = session or _new_session(sessions_dir, workspace, settings, task)
    agent = _build_agent(settings, workspace, session, out)
    if settings.sandbox == "none":
        out.notice(UNSANDBOXED_NOTICE)
    out.event({"type": "system", "subtype": "init", "session_id": session.id,
               "model": settings.model, "endpoint": settings.endpoint, "cwd": str(root),
               "approval": settings.approval, "sandbox": settings.sandbox or "disabled",
               "tools": list(agent.tools)})  # fmt: skip
    outcome = agent.run(task)
    _record_outcome(session, outcome)
    out.final(outcome, session.id)
    return EXIT_CODES[outcome.status]


def _choose_backend(settings: Settings, out: Any) -> None:
    """An existing .gguf file runs embedded (settings.endpoint cleared); else an endpoint."""
    gguf = _gguf_file(settings)
    if gguf is not None:
        from glasscoder.models.llamacpp import import_llama_cpp

        import_llama_cpp()  # before a session exists: a missing extra is a usage error
        if settings.endpoint:
            out.notice(f"glasscoder: running {gguf.name} embedded; the endpoint is not used.")
        settings.endpoint, settings.model = None, str(gguf)
        return
    if settings.endpoint:
        return
    from glasscoder.models import registry

    if registry.find(settings.model) is not None:
        raise UsageError(
            f"Model '{settings.model}' must be pulled first (`glasscoder models pull "
            f"{settings.model}`); or pass --model PATH.gguf or --endpoint URL."
        )
    raise UsageError(
        "No model endpoint configured and no model file given. Pass --model PATH.gguf to run "
        "a GGUF file in-process, or --endpoint URL for a server (e.g. http://127.0.0.1:8000/v1 "
        "for vLLM or SGLang, http://127.0.0.1:8080/v1 for llama.cpp's server), or set them "
        "in your config."
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


def _workspace_root(cwd: Path | None, session: Session | None) -> Path:
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


def _new_session(
    sessions_dir: Path, workspace: Workspace, settings: Settings, task: str | None
) -> Session:
    session = Session.create(
        sessions_dir,
        {"workspace": str(workspace.root), "endpoint": settings.endpoint,
         "model": settings.model, "approval": settings.approval,
         "sandbox": settings.sandbox or "disabled", "task": task or "", "status": "running"},
    )  # fmt: skip
    commands = _commands_line(settings)
    session.append(
        {"role": "system", "content": system_prompt(workspace, settings.approval, commands)}
    )
    return session


def _commands_line(settings: Settings) -> str:
    if settings.sandbox is None:
        return "disabled (no sandbox configured); run_shell will refuse"
    if settings.approval == "plan":
        return "not available in plan mode"
    if settings.approval == "auto-edit":
        allowed = ", ".join(settings.allow_commands) or "none"
        return f"only commands the user allowed run (allowed: {allowed})"
    return "run_shell runs commands in the workspace"


def _build_agent(settings: Settings, workspace: Workspace, session: Session, out: Any) -> Agent:
    from glasscoder.guard.audit import AuditLog
    from glasscoder.tools.registry import default_tools

    audit = AuditLog(session.audit_path)
    if settings.sandbox == "none":
        audit.append("notice", {"message": "commands run without a sandbox (--sandbox none)"})
    model = _model(settings, audit)
    ctx = ToolContext(
        workspace=workspace,
        sandbox=_sandbox(settings),
        sandbox_refusal=NO_SANDBOX_REFUSAL,
        shell_timeout=settings.shell_timeout,
        output_limit=settings.output_limit,
    )
    limits = RunLimits(settings.max_turns, settings.max_time, settings.max_tokens)
    approval = Approval(settings.approval, settings.allow_commands)
    return Agent(model, default_tools(), ctx, approval, session, limits, out.event)


def _model(settings: Settings, audit: Any) -> Any:
    if settings.endpoint is None:  # _choose_backend left a GGUF file in settings.model
        from glasscoder.models.llamacpp import LlamaCppModel

        sampling = {k: v for k, v in (("temperature", settings.temperature),
                                      ("top_p", settings.top_p)) if v is not None}  # fmt: skip
        return LlamaCppModel(
            settings.model, audit, n_ctx=settings.context_size, n_threads=settings.threads,
            n_gpu_layers=settings.gpu_layers, seed=settings.seed,
            max_tokens=settings.max_output_tokens, **sampling,
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
    )


def _sandbox(settings: Settings) -> Any:
    if settings.sandbox == "none":
        from glasscoder.sandbox.none import NoSandbox

        return NoSandbox()
    return None


def _record_outcome(session: Session, outcome: Outcome) -> None:
    session.meta.update(
        status=outcome.status, reason=outcome.reason, turns=outcome.turns,
        files_changed=outcome.files_changed,
    )  # fmt: skip
    session.save_meta()
