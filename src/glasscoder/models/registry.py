"""The models glasscoder knows, as data: where each comes from, what it needs, what it is pinned to.

Where a fact comes from matters for a supply chain, so each entry says which of its facts were
confirmed from public material and which are taken from the model card without a fresh check.
A SHA-256 is pinned only when the hub's own page for that exact repository, revision and file
showed it; otherwise the entry is "unpinned" and says so. Nothing here is guessed into a pin.

Memory figures are estimates for llama.cpp with the whole file memory-mapped:

    RAM ~= file size + KV cache (f16, ``DEFAULT_CONTEXT`` tokens) + ``RUNTIME_OVERHEAD``

A MoE model keeps every expert resident (any token may route to any expert), so the file size
counts whole even though only a few experts run per token; the active parameters set the speed,
not the memory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from glasscoder.errors import UsageError

Serving = Literal["embedded", "server-only"]

DEFAULT_CONTEXT = 32_768  # tokens the RAM estimate reserves KV cache for
RUNTIME_OVERHEAD = 1 << 30  # compute buffers, tokenizer, the process itself: about 1 GiB


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    serving: Serving
    licence: str
    # Weights for vLLM / SGLang (safetensors), and the GGUF build for the embedded backend.
    server_repo: str
    hub_repo: str | None
    hub_file: str | None
    revision: str | None  # the hub revision the pin was seen at; None: the branch head
    quantization: str
    file_bytes: int | None
    sha256: str | None
    total_params: float  # billions
    active_params: float  # billions per token
    context_length: int  # native, tokens
    layers: int
    kv_heads: int
    head_dim: int
    experts: int = 0  # routed experts per layer; 0 for a dense model
    experts_used: int = 0
    # Parser names differ between engines; each engine's docs name its own.
    tool_parsers: dict[str, str] = field(default_factory=dict)
    serve_context: int = 65_536  # --max-model-len / --context-length serve-cmd suggests
    template_sha256: str | None = None  # known-good chat template, when one could be confirmed
    confirmed: str = ""
    unconfirmed: str = ""

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def kv_bytes_per_token(self) -> int:
        # K and V, per layer, per KV head, head_dim values each, 2 bytes (f16 cache).
        return 2 * self.layers * self.kv_heads * self.head_dim * 2

    @property
    def ram_bytes(self) -> int | None:
        if self.file_bytes is None:
            return None
        return self.file_bytes + self.kv_bytes_per_token * DEFAULT_CONTEXT + RUNTIME_OVERHEAD

    @property
    def bf16_weight_bytes(self) -> int:
        return int(self.total_params * 1e9 * 2)


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="qwen3-coder-30b-a3b",
        description="Qwen3-Coder-30B-A3B-Instruct, Q4_K_M: the default; a MoE that fits a laptop",
        serving="embedded",
        licence="Apache-2.0",
        server_repo="Qwen/Qwen3-Coder-30B-A3B-Instruct",
        hub_repo="unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF",
        hub_file="Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf",
        revision=None,
        quantization="Q4_K_M",
        file_bytes=18_556_689_568,
        sha256=None,
        total_params=30.5,
        active_params=3.3,
        context_length=262_144,
        layers=48,
        kv_heads=4,
        head_dim=128,
        experts=128,
        experts_used=8,
        tool_parsers={"vllm": "qwen3_coder", "sglang": "qwen3_coder"},
        confirmed=(
            "repo and file name, and the byte size, from public download scripts that fetch "
            "this file from this repo; 30.5B total / 3.3B active, Apache-2.0 and qwen3moe with "
            "128 experts, 8 per token, from public model cards of its quantizations"
        ),
        unconfirmed=(
            "SHA-256 (no public page for this repo's file was found: unpinned); "
            "48 layers, 4 KV heads of 128 and 262144 context are from the upstream config "
            "as remembered, not re-read here"
        ),
    ),
    ModelSpec(
        name="qwen2.5-coder-7b",
        description="Qwen2.5-Coder-7B-Instruct, Q4_K_M: dense fallback for 8 GB machines",
        serving="embedded",
        licence="Apache-2.0",
        server_repo="Qwen/Qwen2.5-Coder-7B-Instruct",
        hub_repo="bartowski/Qwen2.5-Coder-7B-Instruct-GGUF",
        hub_file="Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
        # The file was re-uploaded once, so the pin holds only together with this revision.
        revision="3aa24f1361edaa90f54f6b791be47aa521ea6370",
        quantization="Q4_K_M",
        file_bytes=4_680_000_000,  # the hub shows "4.68 GB"; exact bytes not published there
        sha256="0d10372614925f17c1fd0b9f987d9c542a6f9b1548f83621b70c3ce8e9d3c1d8",
        total_params=7.6,
        active_params=7.6,
        context_length=32_768,
        layers=28,
        kv_heads=4,
        head_dim=128,
        tool_parsers={"vllm": "hermes", "sglang": "qwen25"},
        serve_context=32_768,
        confirmed=(
            "repo, file, revision, SHA-256 and size from the hub's file page at that revision; "
            "SGLang's qwen25 parser name from public launch scripts"
        ),
        unconfirmed=(
            "7.6B params, 28 layers, 4 KV heads of 128, 32768 context and vLLM's hermes parser "
            "are from the upstream model card as remembered; exact byte size"
        ),
    ),
    ModelSpec(
        name="qwen3-coder-480b-a35b",
        description="Qwen3-Coder-480B-A35B-Instruct: the full model, for multi-GPU servers only",
        serving="server-only",
        licence="Apache-2.0",
        server_repo="Qwen/Qwen3-Coder-480B-A35B-Instruct",
        hub_repo=None,
        hub_file=None,
        revision=None,
        quantization="BF16",
        file_bytes=None,
        sha256=None,
        total_params=480.0,
        active_params=35.0,
        context_length=262_144,
        layers=62,
        kv_heads=8,
        head_dim=128,
        experts=160,
        experts_used=8,
        tool_parsers={"vllm": "qwen3_coder", "sglang": "qwen3_coder"},
        serve_context=32_768,
        confirmed=(
            "repo name and the vLLM recipe (8 GPUs, --enable-expert-parallel, "
            "--tensor-parallel-size 8, --max-model-len 32000 for BF16, qwen3_coder parser) "
            "from vLLM's published recipe"
        ),
        unconfirmed="62 layers, 8 KV heads, 160 experts (8 per token) from the model card",
    ),
)

DEFAULT_MODEL = "qwen3-coder-30b-a3b"


def names() -> list[str]:
    return [m.name for m in MODELS]


def find(name: str) -> ModelSpec | None:
    wanted = name.strip().lower()
    for model in MODELS:
        if wanted in (model.name, model.server_repo.lower()):
            return model
    return None


def by_file_name(file_name: str) -> ModelSpec | None:
    """The entry whose GGUF has this file name: how `verify PATH` finds its pin."""
    for model in MODELS:
        if model.hub_file and model.hub_file.lower() == file_name.lower():
            return model
    return None


def close_names(name: str) -> list[str]:
    return difflib.get_close_matches(name.strip().lower(), names(), n=3, cutoff=0.4)


def require(name: str) -> ModelSpec:
    """The registry entry called `name`, or a usage error naming the close ones."""
    spec = find(name)
    if spec is not None:
        return spec
    close = close_names(name)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"Unknown model {name!r}.{hint} Known: {', '.join(names())}.")


def size_text(n: int | float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.2f} MB"
