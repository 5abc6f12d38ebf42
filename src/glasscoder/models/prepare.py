"""Readying an embedded model for a run: `-p --model NAME --pull`, and the memory check.

A run downloads only when the person passed --pull, and then through `models pull`'s own code
(same pin check, same log, same verification); --trust-unpinned is needed for an unpinned entry
exactly as there. Everything that can refuse is checked before the download starts: the flags,
the llama.cpp extra, and whether the model can fit in memory at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from glasscoder.config import Settings
from glasscoder.errors import UsageError
from glasscoder.models import memory, registry

Notice = Callable[[str], None]


def check_pull_flags(settings: Settings, pull: bool, trust_unpinned: bool) -> None:
    if trust_unpinned and not pull:
        raise UsageError("--trust-unpinned applies only together with --pull.")
    if not pull:
        return
    if settings.endpoint:
        raise UsageError(
            "--pull downloads a registry model to run in-process, but an endpoint is set: the "
            "server runs the model. Leave out --pull, or the endpoint."
        )
    if settings.model.strip().lower().endswith(".gguf"):
        raise UsageError(
            "--pull takes a registry model name (see `glasscoder models list`), not a .gguf file."
        )


def not_pulled_error(name: str) -> UsageError:
    return UsageError(
        f"Model '{name}' must be pulled first: pass --pull to download and verify it now, or "
        f"run `glasscoder models pull {name}`; or pass --model PATH.gguf or --endpoint URL."
    )


def pull_for_run(settings: Settings, trust_unpinned: bool, notice: Notice) -> Path:
    """Pull settings.model as `models pull NAME --yes` would, once nothing can refuse later."""
    from glasscoder.models.llamacpp import check_llama_cpp
    from glasscoder.models.pull import check_pullable, pull_and_report

    spec = registry.require(settings.model)
    check_pullable(spec, trust_unpinned)
    check_llama_cpp()  # a missing extra is found now, not after gigabytes
    if settings.memory_check and spec.file_bytes:
        needed = memory.needed_bytes(spec.file_bytes, spec.kv_bytes_per_token,
                                     settings.context_size)  # fmt: skip
        _notice_warning(memory.check(needed, spec.name, settings.gpu_layers != 0), notice)
    notice(f"glasscoder: {spec.name} is not pulled yet; pulling it (--pull).")
    return pull_and_report(spec, trust_unpinned=trust_unpinned, token=None,
                           confirm=lambda size: True, say=_prefixed(notice),
                           note=_prefixed(notice))  # fmt: skip


def check_memory(settings: Settings, path: Path, notice: Notice) -> None:
    """Before llama.cpp loads `path`: refuse when it clearly will not fit, warn when tight."""
    if not settings.memory_check:
        return
    needed = memory.file_needs(path, settings.context_size)
    _notice_warning(memory.check(needed, path.name, settings.gpu_layers != 0), notice)


def _notice_warning(warning: str | None, notice: Notice) -> None:
    if warning:
        notice(f"glasscoder: warning: {warning}")


def _prefixed(notice: Notice) -> Notice:
    return lambda text: notice(f"glasscoder: {text}")
