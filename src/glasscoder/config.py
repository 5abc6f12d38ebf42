"""One settings object, from defaults < user TOML < project TOML < environment < flags.

A project's `.glasscoder/config.toml` arrives with the repository, so it is treated as
untrusted: it may tune the agent but may not choose where code is sent, which key is used,
what runs without asking, or whether commands run unsandboxed (those keys are ignored there,
with a warning). Its `ignore` patterns add to the user's and can only hide more. It is read
like a workspace file (no symlinks, a regular file of bounded size), so a FIFO or a link to
/dev/zero planted there cannot hang or exhaust glasscoder.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glasscoder.beneath import BeneathOpener
from glasscoder.errors import UsageError
from glasscoder.guard.approval import MODES

APPROVAL_MODES = MODES
# sandbox/choose.py decides what "auto" gets
SANDBOXES = ("auto", "bwrap", "landlock", "seatbelt", "none")
# Keys a repository's own config may not set: they decide where code goes and what runs.
TRUSTED_ONLY = frozenset(
    {"endpoint", "api_key_env", "sandbox", "approval", "allow_commands", "restore_secrets"}
    # Regexes llama.cpp runs natively on load: a hostile one could hang or crash it.
    | {"override_tensor"}
    # Which hosts sandboxed commands may reach: a way out for the workspace's contents.
    | {"allow_net"}
)
PROJECT_CONFIG = ".glasscoder/config.toml"
_MAX_CONFIG_BYTES = 1024 * 1024


@dataclass
class Settings:
    endpoint: str | None = None
    model: str = "qwen3-coder"
    api_key_env: str = "GLASSCODER_API_KEY"
    approval: str = "auto"  # sandboxed commands run; see guard/approval.py
    sandbox: str = "auto"  # bwrap when it works here, else landlock, else commands are refused
    allow_commands: list[str] = field(default_factory=list)
    # HOST[:PORT] sandboxed commands may reach through the proxy (sandbox/netproxy.py).
    allow_net: list[str] = field(default_factory=list)
    max_turns: int = 50
    max_time: float = 1800.0  # seconds of wall time for one task
    max_tokens: int = 2_000_000  # prompt + completion tokens for one task
    stream: bool = True
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    # One model request as a whole (a server that trickles keep-alive bytes cannot stretch it),
    # and its first token (a long prompt on a slow server takes a while to start).
    request_timeout: float = 600.0
    first_token_timeout: float = 300.0
    # The model's context window in tokens when the server does not say (None: ask it; the
    # embedded model's is context_size). The conversation is compacted to stay inside it.
    context_window: int | None = None
    # The embedded model (--model PATH.gguf): llama.cpp's context, CPU threads, GPU layers.
    context_size: int = 8192
    threads: int | None = None  # None: llama.cpp's choice
    gpu_layers: int = 0
    memory_check: bool = True  # refuse an embedded model that clearly will not fit in memory
    seed: int = 0
    # Where its tensors live (models/placement.py), as llama-server's --cpu-moe, --n-cpu-moe N
    # and --override-tensor REGEX=TYPE.
    cpu_moe: bool = False
    n_cpu_moe: int = 0
    override_tensor: list[str] = field(default_factory=list)
    # Checkpoints before each turn that may change files, for undo (agent/undo.py); files
    # larger than this are not kept (and an undo leaves them as they are).
    checkpoints: bool = True
    checkpoint_max_file_bytes: int = 5 * 1024 * 1024
    shell_timeout: float = 120.0
    output_limit: int = 16_000
    ignore: list[str] = field(default_factory=list)
    # Added to the secret-file deny-list (ignore.SECRET_FILES); a user's '!pattern' re-allows.
    deny: list[str] = field(default_factory=list)
    # Put the real value back where the model wrote a redaction placeholder (opt-in).
    restore_secrets: bool = False
    # The project's test command for run_tests ("" = discover it). A repository's config may
    # set it: it only runs through run_tests, sandboxed and approved like run_shell.
    test_command: str = ""
    lint_on_edit: bool = True  # lint edited files (sandboxed) and show the model new problems
    map_tokens: int = 1000  # repo map appended to the first task, in tokens (0: none)
    map_time: float = 2.0  # seconds the first request waits for the map (0: no limit)
    warnings: list[str] = field(default_factory=list, repr=False)


ENV_KEYS = {
    "GLASSCODER_ENDPOINT": "endpoint",
    "GLASSCODER_MODEL": "model",
    "GLASSCODER_API_KEY_ENV": "api_key_env",
    "GLASSCODER_APPROVAL": "approval",
    "GLASSCODER_SANDBOX": "sandbox",
    "GLASSCODER_MAX_TURNS": "max_turns",
    "GLASSCODER_ALLOW_NET": "allow_net",  # comma-separated
}


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "glasscoder"


def data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "glasscoder"


def user_config_path() -> Path:
    return Path(os.environ.get("GLASSCODER_CONFIG") or config_home() / "config.toml")


def own_paths() -> list[Path]:
    """Where glasscoder keeps what the model must never touch: config, sessions, audit logs."""
    return [config_home(), user_config_path(), data_home()]


def project_config_path(root: Path) -> Path:
    return root / PROJECT_CONFIG


def load_settings(root: Path, flags: dict[str, Any]) -> Settings:
    """Merge every source; `flags` holds only the flags the person actually gave."""
    settings = Settings()
    _apply(settings, _read_toml(user_config_path()), str(user_config_path()))
    _apply_project(settings, root)
    env = {name: os.environ[var] for var, name in ENV_KEYS.items() if os.environ.get(var)}
    _apply(settings, env, "the environment")
    _apply(settings, {k: v for k, v in flags.items() if v is not None}, "the command line")
    _validate(settings)
    return settings


def _apply_project(settings: Settings, root: Path) -> None:
    """The untrusted project config: trusted keys dropped, ignore patterns only added."""
    source = str(project_config_path(root))
    # Keys are compared as _apply will use them, so `api-key-env` is `api_key_env`.
    project = {key.replace("-", "_"): value for key, value in _read_project_toml(root).items()}
    for key in sorted(TRUSTED_ONLY & project.keys()):
        settings.warnings.append(
            f"Ignored '{key}' in {source}: a repository's config may not set it; "
            f"put it in {user_config_path()} or pass it as a flag."
        )
        del project[key]
    model = project.get("model")
    if isinstance(model, str) and model.strip().lower().endswith(".gguf"):
        # A model file runs in-process and decides what the agent does: the person chooses it.
        settings.warnings.append(
            f"Ignored 'model' in {source}: a repository's config may not choose a model file; "
            "pass --model PATH.gguf yourself."
        )
        del project["model"]
    extra = _convert("ignore", project.pop("ignore", []), [], source)
    deny = _convert("deny", project.pop("deny", []), [], source)
    if any(pattern.startswith("!") for pattern in extra + deny):
        settings.warnings.append(
            f"Ignored the '!' patterns of 'ignore' and 'deny' in {source}: a repository's "
            "config may hide more files, not fewer."
        )
    _apply(settings, project, source)
    # Last match wins in ignore patterns, so the user's own come after the project's.
    settings.ignore = [p for p in extra if not p.startswith("!")] + settings.ignore
    settings.deny = [p for p in deny if not p.startswith("!")] + settings.deny


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return _parse_toml(f.read(), path)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise UsageError(f"Cannot read {path}: {e.strerror}.") from None


def _read_project_toml(root: Path) -> dict[str, Any]:
    path = project_config_path(root)
    try:
        opener = BeneathOpener(str(root))
    except OSError as e:
        raise UsageError(f"Cannot open the workspace {root}: {e.strerror}.") from None
    try:
        fd = opener.open(PROJECT_CONFIG, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise UsageError(
            f"Cannot read {path}: {e.strerror} (it must be a regular file, not a symlink)."
        ) from None
    finally:
        opener.close()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path} is not a regular file; remove it.")
        data = _read_at_most(fd, _MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_CONFIG_BYTES:
        raise UsageError(f"{path} is larger than {_MAX_CONFIG_BYTES} bytes; remove it.")
    return _parse_toml(data, path)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks = []
    while limit > 0 and (chunk := os.read(fd, min(limit, 65536))):
        chunks.append(chunk)
        limit -= len(chunk)
    return b"".join(chunks)


def _parse_toml(data: bytes, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # TOMLDecodeError and UnicodeDecodeError too
        raise UsageError(f"{path} is not valid TOML ({e}); fix or remove it.") from None


def _apply(settings: Settings, values: dict[str, Any], source: str) -> None:
    known = {f.name: f for f in fields(Settings) if f.name != "warnings"}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in known:
            raise UsageError(f"Unknown setting '{key}' in {source}; known: {', '.join(known)}.")
        setattr(settings, name, _convert(name, value, getattr(settings, name), source))


def _convert(name: str, value: Any, current: Any, source: str) -> Any:
    """Type a value by the field's default type; environment values arrive as strings."""
    expected = {
        "max_turns": int, "max_tokens": int, "output_limit": int, "max_output_tokens": int,
        "context_size": int, "threads": int, "gpu_layers": int, "seed": int,
        "max_time": float, "request_timeout": float, "shell_timeout": float,
        "first_token_timeout": float,
        "temperature": float, "top_p": float, "stream": bool, "restore_secrets": bool,
        "memory_check": bool, "lint_on_edit": bool,
        "allow_commands": list, "ignore": list, "deny": list, "allow_net": list,
        "cpu_moe": bool, "n_cpu_moe": int, "override_tensor": list,
        "map_tokens": int, "map_time": float, "context_window": int,
        "checkpoints": bool, "checkpoint_max_file_bytes": int,
    }.get(name, str)  # fmt: skip
    try:
        if expected is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if expected is list:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return list(value)
        if expected in (int, float) and isinstance(value, bool):
            raise ValueError
        return expected(value)
    except (TypeError, ValueError):
        kind = {list: "a list of strings", int: "an integer", float: "a number",
                bool: "true or false"}.get(expected, "a string")  # fmt: skip
        raise UsageError(f"Setting '{name}' in {source} must be {kind}, not {value!r}.") from None


def _validate(s: Settings) -> None:
    if s.approval not in APPROVAL_MODES:
        raise UsageError(
            f"approval must be one of {', '.join(APPROVAL_MODES)}, not '{s.approval}'."
        )
    if s.sandbox not in SANDBOXES:
        raise UsageError(
            f"Unknown sandbox '{s.sandbox}'; choose auto (bwrap when it works, the default), "
            "bwrap, landlock (the weaker fallback), seatbelt (macOS), or none (commands run "
            "unsandboxed, by your explicit choice)."
        )
    for name in ("max_turns", "max_tokens", "max_time", "shell_timeout", "output_limit",
                 "request_timeout", "first_token_timeout"):  # fmt: skip
        if not getattr(s, name) > 0:  # also refuses NaN
            raise UsageError(f"{name} must be greater than 0.")
    if s.map_tokens < 0:
        raise UsageError("map_tokens must be 0 (no repo map) or a number of tokens.")
    if not s.map_time >= 0:  # also refuses NaN
        raise UsageError("map_time must be 0 (wait for the repo map) or a number of seconds.")
    if not s.context_size > 0 or (s.threads is not None and not s.threads > 0):
        raise UsageError("context_size and threads must be greater than 0.")
    if s.context_window is not None and not s.context_window >= 256:
        raise UsageError("context_window must be a number of tokens (at least 256).")
    if s.gpu_layers < -1:
        raise UsageError("gpu_layers must be -1 (all), 0 (none) or a number of layers.")
    from glasscoder.models.placement import overrides_from_settings

    overrides_from_settings(s.override_tensor, s.cpu_moe, s.n_cpu_moe)  # REGEX=TYPE, n >= 0
    from glasscoder.sandbox.netrules import AllowList

    AllowList.parse(s.allow_net)  # each entry HOST[:PORT]
    if not s.model.strip():
        raise UsageError("model must not be empty; pass --model NAME.")
    if s.endpoint is not None and not _is_http_url(s.endpoint):
        raise UsageError(
            f"Endpoint '{s.endpoint}' must be an http:// or https:// URL with a host, "
            "e.g. http://127.0.0.1:8000/v1."
        )


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
