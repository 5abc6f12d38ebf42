"""Will an embedded model fit in memory? Checked before llama.cpp loads it, not after it thrashes.

The need is estimated the same way as `models list` does it: the whole file (llama.cpp maps it,
and a MoE model keeps every expert resident), the f16 KV cache for the context actually asked
for, and about 1 GiB of runtime buffers. What the machine has is MemAvailable from /proc/meminfo
(free memory plus what the kernel can reclaim), with free swap beside it.

Mapped file pages can be dropped and read again from disk, so a model somewhat larger than free
memory still runs, slowly. Only when the need exceeds memory and swap together is it clearly not
going to fit: that is refused. Between free memory and memory plus swap is a warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from glasscoder.errors import UsageError
from glasscoder.models.registry import RUNTIME_OVERHEAD

MEMINFO = Path("/proc/meminfo")
TIGHT_SHARE = 0.9  # above this share of available memory, other programs start to feel it

Fit = Literal["ok", "tight", "no"]


@dataclass(frozen=True)
class Memory:
    available: int  # bytes a new process can take without swapping
    swap_free: int  # bytes of swap still free


@dataclass(frozen=True)
class Verdict:
    fit: Fit
    needed: int
    memory: Memory

    def message(self, what: str) -> str:
        figures = (f"needs about {_gib(self.needed)} (file + KV cache + 1 GiB); "
                   f"{_gib(self.memory.available)} available, {_gib(self.memory.swap_free)} "
                   "swap free")  # fmt: skip
        if self.fit == "no":
            return (f"{what} will not fit in memory: it {figures}. Lower --context-size, choose "
                    "a smaller model, or pass --no-memory-check to try anyway.")  # fmt: skip
        return f"memory is tight for {what}: it {figures}; expect it to be slow or to swap."


def needed_bytes(file_bytes: int, kv_bytes_per_token: int | None, context: int) -> int:
    return file_bytes + (kv_bytes_per_token or 0) * context + RUNTIME_OVERHEAD


def judge(needed: int, memory: Memory) -> Verdict:
    if needed > memory.available + memory.swap_free:
        fit: Fit = "no"
    elif needed > memory.available * TIGHT_SHARE:
        fit = "tight"
    else:
        fit = "ok"
    return Verdict(fit, needed, memory)


def machine_memory(meminfo: Path | None = None) -> Memory | None:
    """This machine's available memory and free swap; None when it cannot be told."""
    fields = _read_meminfo(meminfo or MEMINFO)
    if "MemAvailable" in fields:
        return Memory(fields["MemAvailable"], fields.get("SwapFree", 0))
    try:  # not Linux (or a kernel without MemAvailable): free pages, no swap figure
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return Memory(pages * size, 0) if pages > 0 and size > 0 else None


def _read_meminfo(path: Path) -> dict[str, int]:
    """`Name:   1234 kB` lines as bytes."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            unit = 1024 if parts[1:2] == ["kB"] else 1
            fields[name.strip()] = int(parts[0]) * unit
    return fields


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def file_needs(path: Path, context: int) -> int:
    """The estimate for a GGUF file; its KV cache size comes from the header when it reads."""
    from glasscoder.models.gguf_info import header_kv_bytes_per_token

    try:
        kv = header_kv_bytes_per_token(path)
    except UsageError:  # a header that cannot be read: the file size alone (llama.cpp will say)
        kv = None
    return needed_bytes(path.stat().st_size, kv, context)


def check(needed: int, what: str, offloaded: bool, memory: Memory | None = None) -> str | None:
    """Raise a UsageError when `what` clearly will not fit; a warning when it is tight.

    With layers offloaded to a GPU part of the file leaves RAM, by an amount not known here,
    so there a clear misfit is only a warning.
    """
    memory = memory or machine_memory()
    if memory is None:
        return None
    verdict = judge(needed, memory)
    if verdict.fit == "no" and not offloaded:
        raise UsageError(verdict.message(what))
    if verdict.fit == "ok":
        return None
    note = " Some layers go to the GPU, so this is only a warning." if offloaded else ""
    return verdict.message(what) + note
