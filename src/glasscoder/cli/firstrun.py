"""First run on a terminal with no model configured: find one, let the person pick, remember it.

The menu offers, in order: models that servers on 127.0.0.1 already serve (llama.cpp, vLLM,
SGLang, Ollama, LM Studio on their usual ports: models/discover.py), registry models already
pulled, and pulling the registry's default model (named with its size). The choice is written
to the user config file, keeping what is there (comments, other keys, tables), so the next
start needs no question. Without a terminal nothing is asked: `no_model_hint()` is the error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from glasscoder.config import Settings, user_config_path
from glasscoder.errors import UsageError, UserFacingError
from glasscoder.models import discover, registry
from glasscoder.safetext import printable

Ask = Callable[[str], str]  # a prompt -> the line typed; EOFError when there is none
Say = Callable[[str], None]

MAX_MODELS_PER_SERVER = 10  # an Ollama with dozens of models must not bury the other choices
NO_MODEL = (
    "No model endpoint configured and no model file given. Pass --model PATH.gguf to run "
    "a GGUF file in-process, or --endpoint URL for a server (e.g. http://127.0.0.1:8000/v1 "
    "for vLLM or SGLang, http://127.0.0.1:8080/v1 for llama.cpp's server), or set them "
    "in your config. `glasscoder models list` shows the models glasscoder can pull or serve."
)


@dataclass(frozen=True)
class Option:
    label: str
    model: str
    endpoint: str | None = None  # None: an embedded model, by registry name
    pull: registry.ModelSpec | None = None  # downloaded first when chosen


def no_model_hint() -> str:
    """The one-line error when no model is configured and there is no terminal to ask on."""
    return NO_MODEL


def needs_model(settings: Settings) -> bool:
    """True when nothing says which model to use: no endpoint, no .gguf file, no registry
    name (a registry name not yet pulled gets run's own "pull it first" error instead)."""
    if settings.endpoint:
        return False
    model = settings.model.strip()
    return not model.lower().endswith(".gguf") and registry.find(model) is None


def choose_model(
    settings: Settings,
    *,
    ask: Ask | None = None,
    say: Say | None = None,
    ports: tuple[tuple[str, int], ...] = discover.LOCAL_SERVERS,
    timeout: float = discover.PROBE_TIMEOUT,
) -> bool:
    """Offer the models found, pull one if asked, save the choice to the user config and set
    settings.endpoint / settings.model. False when nothing was chosen (nothing is written)."""
    ask = ask or _ask_on_terminal
    say = say or _to_stderr
    say("glasscoder: no model is configured; looking for one on this machine...")
    servers = discover.find_servers(ports, timeout)
    if not servers and ports:
        where = ", ".join(f"{name} :{port}" for name, port in ports)
        say(f"  No model server answers on 127.0.0.1 ({where}).")
    menu = options(servers, discover.pulled_models(), say)
    if not menu:
        return False
    for number, option in enumerate(menu, 1):
        say(f"  {number}. {option.label}")
    chosen = pick(menu, ask, say)
    if chosen is None:
        return False
    if chosen.pull is not None:
        _pull(settings, chosen.pull, say)
    values = {"model": chosen.model}
    if chosen.endpoint is not None:
        values = {"endpoint": chosen.endpoint, **values}
    path = save_user_config(values)
    settings.endpoint, settings.model = chosen.endpoint, chosen.model
    saved = ", ".join(f"{key} = {value!r}" for key, value in values.items())
    say(printable(f"glasscoder: saved to {path}: {saved}"))
    return True


def options(
    servers: list[discover.LocalServer], pulled: list[discover.PulledModel], say: Say
) -> list[Option]:
    menu = [
        Option(printable(f"{model}  (served by {server.name} at {server.endpoint})"),
               model, server.endpoint)
        for server in servers
        for model in server.models[:MAX_MODELS_PER_SERVER]
    ]  # fmt: skip
    menu += [Option(f"{p.spec.name}  (pulled; runs in-process: {p.path})", p.spec.name)
             for p in pulled]  # fmt: skip
    default = discover.default_model()
    if all(p.spec.name != default.name for p in pulled):
        offer = _pull_offer(default, say)
        menu += [offer] if offer else []
    return menu


def _pull_offer(spec: registry.ModelSpec, say: Say) -> Option | None:
    from glasscoder.models.llamacpp import check_llama_cpp

    try:
        check_llama_cpp()  # a download is no use without llama.cpp to run it
    except UsageError as exc:
        say(f"glasscoder: to pull and run {spec.name} in-process: {exc}")
        return None
    trust = "" if spec.pinned else "; unpinned: its SHA-256 is recorded on first use"
    label = (f"pull {spec.name} ({registry.size_text(spec.file_bytes)}) and run it "
             f"in-process{trust}")  # fmt: skip
    return Option(label, spec.name, pull=spec)


def pick(menu: list[Option], ask: Ask, say: Say) -> Option | None:
    """The option whose number is typed; None for an empty answer, q, or end of input."""
    while True:
        try:
            choices = "1" if len(menu) == 1 else f"1-{len(menu)}"
            answer = ask(f"Choose {choices} (Enter for none)").strip().lower()
        except EOFError:
            return None
        if answer in ("", "q", "0"):
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(menu):
            return menu[int(answer) - 1]
        say(f"Type a number from 1 to {len(menu)}, or press Enter for none.")


def _pull(settings: Settings, spec: registry.ModelSpec, say: Say) -> Path:
    """Pull as `models pull NAME --yes` would; the person chose it, size shown, just now."""
    from glasscoder.models import memory
    from glasscoder.models.pull import pull_and_report

    if settings.memory_check and spec.file_bytes:  # refuse before gigabytes, not after
        needed = memory.needed_bytes(spec.file_bytes, spec.kv_bytes_per_token,
                                     settings.context_size)  # fmt: skip
        if warning := memory.check(needed, spec.name, settings.gpu_layers != 0):
            say(f"glasscoder: warning: {warning}")
    say(f"glasscoder: pulling {spec.name} ({registry.size_text(spec.file_bytes)})...")
    return pull_and_report(spec, trust_unpinned=not spec.pinned, token=None,
                           confirm=lambda _size: True, say=_prefixed(say),
                           note=_prefixed(say))  # fmt: skip


def save_user_config(values: dict[str, str]) -> Path:
    """Set top-level keys in the user config file, keeping everything else in it as it was."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = user_config_path()
    target = path.resolve()  # a symlinked config (dotfiles) is written through, not replaced
    try:
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        keys = ", ".join(values)
        raise UserFacingError(f"Cannot update {path} ({exc}); fix it, or set {keys} there "
                              "yourself.") from None  # fmt: skip
    for key, value in values.items():
        document[key] = value
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
    if target.exists():
        os.chmod(temporary, target.stat().st_mode & 0o777)
    temporary.replace(target)  # atomic: a crash never leaves half a config
    return path


def _ask_on_terminal(prompt: str) -> str:
    from rich.console import Console
    from rich.prompt import Prompt

    return Prompt.ask(prompt, console=Console(stderr=True), default="", show_default=False)


def _to_stderr(text: str) -> None:
    click.echo(printable(text), err=True)  # server names, paths: never terminal controls


def _prefixed(say: Say) -> Say:
    return lambda text: say(f"glasscoder: {text}")
