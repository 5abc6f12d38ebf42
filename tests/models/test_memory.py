"""The memory check: /proc/meminfo parsing, the fit rules, and the estimate from a GGUF header."""

import os
import random
import struct
from pathlib import Path

import pytest

from glasscoder.errors import UsageError
from glasscoder.models import memory
from glasscoder.models.gguf_info import header_kv_bytes_per_token, header_scalars, read_info
from glasscoder.models.registry import RUNTIME_OVERHEAD
from tests.fixtures.tiny_gguf import write_tiny_gguf

GIB = 2**30
MEMINFO = """\
MemTotal:       16314856 kB
MemFree:         1048576 kB
MemAvailable:    8388608 kB
Buffers:          123456 kB
SwapTotal:       4194304 kB
SwapFree:        2097152 kB
HugePages_Total:       0
"""


def test_meminfo_gives_available_and_free_swap_in_bytes(tmp_path: Path) -> None:
    path = tmp_path / "meminfo"
    path.write_text(MEMINFO)
    assert memory.machine_memory(path) == memory.Memory(available=8 * GIB, swap_free=2 * GIB)


def test_without_memavailable_it_falls_back_to_sysconf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "meminfo"
    path.write_text("MemTotal: 1000 kB\n")
    figures = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: figures[name])
    assert memory.machine_memory(path) == memory.Memory(4_096_000, 0)
    assert memory.machine_memory(tmp_path / "missing") == memory.Memory(4_096_000, 0)


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="Linux only")
def test_this_machine_reports_some_memory() -> None:
    found = memory.machine_memory()
    assert found is not None and found.available > 64 * 2**20


@pytest.mark.parametrize(
    ("needed_gib", "fit"),
    [(4, "ok"), (7.5, "tight"), (9, "tight"), (10, "tight"), (10.5, "no"), (40, "no")],
)
def test_fit_rules(needed_gib: float, fit: str) -> None:
    verdict = memory.judge(int(needed_gib * GIB), memory.Memory(8 * GIB, 2 * GIB))
    assert verdict.fit == fit


def test_a_clear_misfit_is_refused_with_the_numbers() -> None:
    with pytest.raises(UsageError) as caught:
        memory.check(20 * GIB, "big.gguf", offloaded=False, memory=memory.Memory(8 * GIB, GIB))
    text = str(caught.value)
    assert "big.gguf will not fit" in text
    assert "20.0 GiB" in text and "8.0 GiB available" in text and "1.0 GiB swap" in text
    assert "--no-memory-check" in text and "--context-size" in text


def test_tight_warns_and_gpu_offload_turns_a_misfit_into_a_warning() -> None:
    mem = memory.Memory(8 * GIB, GIB)
    assert memory.check(2 * GIB, "m", offloaded=False, memory=mem) is None
    tight = memory.check(8 * GIB, "m", offloaded=False, memory=mem)
    assert tight is not None and "tight" in tight
    offloaded = memory.check(20 * GIB, "m", offloaded=True, memory=mem)
    assert offloaded is not None and "GPU" in offloaded and "will not fit" in offloaded


def test_unknown_machine_memory_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "machine_memory", lambda: None)
    assert memory.check(10**15, "m", offloaded=False) is None


def test_estimate_from_a_gguf_uses_its_kv_cache_size(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    kv = read_info(tiny).kv_bytes_per_token
    assert kv
    size = tiny.stat().st_size
    assert memory.file_needs(tiny, 4096) == size + kv * 4096 + RUNTIME_OVERHEAD
    # More context, more cache: the estimate follows the context the run asks for.
    assert memory.file_needs(tiny, 8192) - memory.file_needs(tiny, 4096) == kv * 4096


def test_an_unreadable_header_counts_the_file_alone(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + random.Random(1).randbytes(10_000))
    assert memory.file_needs(junk, 4096) == 10_004 + RUNTIME_OVERHEAD


def test_the_fast_header_read_agrees_with_the_full_reader(tmp_path: Path) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    fields = header_scalars(tiny)
    assert fields["general.architecture"] == "qwen3moe"
    assert "tokenizer.ggml.tokens" not in fields  # arrays are skipped, not read
    assert header_kv_bytes_per_token(tiny) == read_info(tiny).kv_bytes_per_token


@pytest.mark.parametrize("cut", [4, 10, 30, 200, 2000])
def test_a_cut_or_hostile_header_is_one_usage_error(tmp_path: Path, cut: int) -> None:
    data = write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    cut_file = tmp_path / "cut.gguf"
    cut_file.write_bytes(data[:cut])
    with pytest.raises(UsageError, match="no readable GGUF header"):
        header_scalars(cut_file)
    huge = tmp_path / "huge.gguf"  # one field whose key claims 2**62 bytes
    huge.write_bytes(b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**62) + b"x" * 100)
    with pytest.raises(UsageError, match="no readable GGUF header"):
        header_scalars(huge)
