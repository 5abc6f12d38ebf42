"""Where the embedded model's weights live: llama.cpp's tensor-buffer overrides.

On a machine with a GPU too small for a mixture-of-experts model, the expert tensors (most of
the bytes, few of them read per token) can stay in RAM while everything else goes to the GPU.
llama.cpp takes this as a NULL-terminated array of ``{regex, buffer type}`` pairs in
``llama_model_params.tensor_buft_overrides``; the first pattern that matches a tensor's name
(``std::regex_search``) decides its buffer. The settings mirror llama-server's flags:
``--override-tensor REGEX=TYPE``, ``--cpu-moe`` and ``--n-cpu-moe N``.

llama-cpp-python 0.3.36 declares that field but never fills it, and its ``Llama`` builds the
parameters itself, so ``load_llama`` puts the array in through a narrow hook (see there).
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glasscoder.errors import UsageError

EXPERTS = r"blk\.\d+\.ffn_(up|down|gate)_exps"
MAX_PATTERN_CHARS = 256
PINNED = "0.3.36"
_HOOK_LOCK = threading.Lock()


@dataclass(frozen=True)
class Override:
    pattern: str  # a regex searched in each tensor name
    buffer_type: str  # a ggml buffer type name, e.g. CPU or CUDA0


def parse_override(text: str) -> Override:
    """``REGEX=TYPE``; the last '=' splits, as a type name never holds one but a regex may."""
    pattern, sep, buffer_type = text.rpartition("=")
    if not sep or not pattern or not buffer_type.strip():
        raise UsageError(f"override_tensor '{text}' must be REGEX=TYPE, e.g. 'ffn_.*_exps=CPU'.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UsageError(f"override_tensor pattern is longer than {MAX_PATTERN_CHARS} characters.")
    try:
        # Python's regex dialect is not C++'s ECMAScript one, but it catches the usual mistakes
        # (unbalanced brackets, a stray quantifier) before they reach llama.cpp.
        re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"override_tensor pattern '{pattern}' is not a regex: {exc}.") from None
    return Override(pattern, buffer_type.strip())


def overrides_from_settings(
    override_tensor: Sequence[str], cpu_moe: bool, n_cpu_moe: int
) -> list[Override]:
    """Explicit overrides first (the first match wins), then the expert shorthands."""
    if n_cpu_moe < 0:
        raise UsageError("n_cpu_moe must be 0 or a number of layers.")
    found = [parse_override(text) for text in override_tensor]
    if cpu_moe:
        found.append(Override(EXPERTS, "CPU"))
    else:
        # `\.` after the number: layer 1's pattern must not also match layers 10-19.
        found += [Override(rf"blk\.{i}\.ffn_(up|down|gate)_exps", "CPU") for i in range(n_cpu_moe)]
    return found


@dataclass(frozen=True)
class Placed:
    """Tensors of the GGUF an override places, per buffer type: for the start-up notice."""

    tensors: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{self.tensors[name]} tensors, {_size(self.bytes[name])} in {name}"
                 for name in self.tensors]  # fmt: skip
        return "; ".join(parts) or "no tensors (no pattern matched)"


def placed_by(path: Path, overrides: Sequence[Override]) -> Placed:
    """What the overrides match in the file's tensor list, first match winning as in llama.cpp.
    Python's regex stands in for C++'s here; for names like blk.3.ffn_up_exps.weight they agree."""
    import gguf

    compiled = [(re.compile(o.pattern), o.buffer_type) for o in overrides]
    tensors: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for tensor in gguf.GGUFReader(str(path), "r").tensors:
        name = next((buft for rx, buft in compiled if rx.search(tensor.name)), None)
        if name is not None:
            tensors[name] = tensors.get(name, 0) + 1
            sizes[name] = sizes.get(name, 0) + int(tensor.n_bytes)
    return Placed(tensors, sizes)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


class _BuftOverride(ctypes.Structure):
    # struct llama_model_tensor_buft_override { const char * pattern; ggml_backend_buffer_type_t
    # buft; } from llama.h; llama-cpp-python 0.3.36 has no class for it.
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


class OverrideArray:
    """The NULL-terminated C array, and the pattern bytes it points into. llama.cpp keeps the
    pointer for the model's lifetime (it reads it while creating tensors), so the owner keeps
    this object as long as the model."""

    def __init__(self, overrides: Sequence[Override], bufts: dict[str, int]) -> None:
        self.overrides = list(overrides)
        self._patterns = [o.pattern.encode("utf-8") for o in overrides]
        self._array = (_BuftOverride * (len(overrides) + 1))()  # zeroed: the last is the NULL
        for i, (override, pattern) in enumerate(zip(overrides, self._patterns, strict=True)):
            self._array[i].pattern = pattern
            self._array[i].buft = _buffer_type(bufts, override.buffer_type)

    @property
    def address(self) -> int:
        return ctypes.addressof(self._array)

    def __len__(self) -> int:
        return len(self.overrides)

    def entry(self, i: int) -> tuple[bytes | None, int | None]:
        return self._array[i].pattern, self._array[i].buft


def check_buffer_types(override_tensor: Sequence[str]) -> None:
    """Refuse unknown buffer type names early, before a run starts. The names are asked of a
    model worker: llama.cpp is never loaded in the session's process."""
    if override_tensor:
        from glasscoder.models.worker_process import WorkerProcess

        worker = WorkerProcess()
        try:
            names = worker.call("buffer_types")["names"]
        finally:
            worker.close()
        for override in map(parse_override, override_tensor):
            _buffer_type(dict.fromkeys(names, 0), override.buffer_type)


def _buffer_type(bufts: dict[str, int], name: str) -> int:
    if name not in bufts:
        known = ", ".join(sorted(bufts)) or "none"
        raise UsageError(f"Unknown buffer type '{name}' in override_tensor; this machine has: "
                         f"{known}.")  # fmt: skip
    return bufts[name]


def buffer_types(llama_cpp: Any) -> dict[str, int]:
    """Buffer type names from ggml's device registry, as llama-server lists them. CPU is
    ggml_backend_cpu_buffer_type() itself: llama.cpp compares against that pointer to choose
    the CPU's repacked weight layouts for overridden tensors."""
    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    try:
        # The same files libllama loaded, so the same library instances and pointers.
        ggml = ctypes.CDLL(str(lib_dir / "libggml.so"))
        base = ctypes.CDLL(str(lib_dir / "libggml-base.so"))
        _declare(ggml, base)
    except (OSError, AttributeError) as exc:
        raise _changed_shape(f"ggml's device registry is not where expected ({exc})") from None
    found: dict[str, int] = {}
    for i in range(ggml.ggml_backend_dev_count()):
        device = ggml.ggml_backend_dev_get(i)
        for buft in (base.ggml_backend_dev_buffer_type(device),
                     base.ggml_backend_dev_host_buffer_type(device)):  # fmt: skip
            if buft:
                found.setdefault(base.ggml_backend_buft_name(buft).decode(), buft)
    found["CPU"] = base.ggml_backend_cpu_buffer_type()
    return found


def _declare(ggml: ctypes.CDLL, base: ctypes.CDLL) -> None:
    ptr, size = ctypes.c_void_p, ctypes.c_size_t
    for lib, name, args, result in (
        (ggml, "ggml_backend_dev_count", [], size),
        (ggml, "ggml_backend_dev_get", [size], ptr),
        (base, "ggml_backend_dev_buffer_type", [ptr], ptr),
        (base, "ggml_backend_dev_host_buffer_type", [ptr], ptr),
        (base, "ggml_backend_buft_name", [ptr], ctypes.c_char_p),
        (base, "ggml_backend_cpu_buffer_type", [], ptr),
    ):
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result


def load_llama(llama_cpp: Any, array: OverrideArray, model_path: str, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)`` with the override array in its model params.

    Why a hook: 0.3.36's Llama takes no model params and no loaded model; it starts from
    ``llama_cpp.llama_cpp.llama_model_default_params()``, sets the fields it knows (never
    ``tensor_buft_overrides``) and loads. Copying its ~200-line constructor, or building the
    model through ``_internals`` and grafting it on, would follow every private detail of it;
    returning defaults that already carry our pointer touches one public function, for one
    thread, for the length of one constructor call. If the library's shape changes, the checks
    here and in ``_hooked_defaults`` raise instead of loading a model without the placement.
    """
    if len(array) >= llama_cpp.llama_max_tensor_buft_overrides():
        raise UsageError(f"Too many tensor overrides ({len(array)}); llama.cpp takes fewer than "
                         f"{llama_cpp.llama_max_tensor_buft_overrides()}.")  # fmt: skip
    module = _checked_module(llama_cpp)
    with _hooked_defaults(module, array.address) as calls:
        llm = llama_cpp.Llama(model_path, **kwargs)
    if not calls or llm.model_params.tensor_buft_overrides != array.address:
        llm.close()
        raise _changed_shape("Llama no longer builds its model params from the defaults")
    return llm


def _checked_module(llama_cpp: Any) -> Any:
    """The ctypes module Llama reads its defaults from, with the field where llama.h has it."""
    module = getattr(llama_cpp, "llama_cpp", None)
    params = getattr(module, "llama_model_params", None)
    llama_module = getattr(llama_cpp, "llama", None)
    if params is None or getattr(llama_module, "llama_cpp", None) is not module:
        raise _changed_shape("llama_cpp.llama no longer uses llama_cpp.llama_cpp")
    pointer = ctypes.sizeof(ctypes.c_void_p)
    fields = [name for name, *_ in params._fields_]
    slot = getattr(params, "tensor_buft_overrides", None)
    # llama.h: `devices` then `tensor_buft_overrides`, both pointers, at the struct's start.
    placed = slot is not None and (slot.offset, slot.size) == (pointer, pointer)
    if fields[:2] != ["devices", "tensor_buft_overrides"] or not placed:
        raise _changed_shape("llama_model_params has a different layout")
    return module


@contextmanager
def _hooked_defaults(module: Any, address: int) -> Iterator[list[int]]:
    """Swap in defaults carrying ``address``, only for this thread; yields the calls seen."""
    owner, calls = threading.get_ident(), []
    with _HOOK_LOCK:  # two loads at once must not restore each other's hook
        original = module.llama_model_default_params

        def defaults() -> Any:
            params = original()
            if threading.get_ident() == owner:
                params.tensor_buft_overrides = address
                calls.append(address)
            return params

        module.llama_model_default_params = defaults
        try:
            yield calls
        finally:
            module.llama_model_default_params = original


def _changed_shape(what: str) -> UsageError:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("llama-cpp-python")
    except PackageNotFoundError:
        installed = "unknown"
    return UsageError(
        f"Tensor placement (cpu_moe, n_cpu_moe, override_tensor) is written for "
        f"llama-cpp-python {PINNED}, and this one ({installed}) differs: {what}. Install "
        f"llama-cpp-python=={PINNED} or drop those settings."
    )
