"""What a GGUF file says about itself: shape, experts, memory per token, and its chat template.

The chat template in a GGUF runs on every prompt, so it is treated as untrusted code: its hash is
compared with a known-good one where the registry has it, and a short list of named rules looks
for things a template has no reason to contain. Add a rule to ``TEMPLATE_RULES`` to check more.

Reading needs the optional ``gguf`` package (MIT, with numpy): ``pip install 'glasscoder[local]'``;
``header_scalars`` (the memory check's few numbers) reads the header itself, without it.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from glasscoder.errors import UsageError

GGUF_MAGIC = b"GGUF"
INSTALL_HINT = "pip install 'glasscoder[local]'"
MAX_TEMPLATE_CHARS = 20_000  # Qwen3-Coder's own template is well under half of this


def import_gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise UsageError(
            f"Reading GGUF files needs the gguf package; install it with: {INSTALL_HINT}"
        ) from None
    return gguf


# --- template rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRule:
    name: str
    why: str
    find: Callable[[str], list[str]]  # the offending snippets, empty when the rule passes


def _regex(pattern: str) -> Callable[[str], list[str]]:
    compiled = re.compile(pattern, re.IGNORECASE)

    def find(template: str) -> list[str]:
        return sorted({m.group(0) for m in compiled.finditer(template)})

    return find


def _too_long(template: str) -> list[str]:
    return [f"{len(template)} characters"] if len(template) > MAX_TEMPLATE_CHARS else []


TEMPLATE_RULES: tuple[TemplateRule, ...] = (
    TemplateRule("url", "a template formats messages; it has no reason to name a web address",
                 _regex(r"\b(?:https?|ftp)://[^\s'\"}]*|\bwww\.[^\s'\"}]+")),
    TemplateRule("instruction", "text that instructs the model is a prompt injection in waiting",
                 _regex(r"ignore (?:all )?(?:the )?(?:previous|prior|above)|"
                        r"disregard (?:all |the )?(?:previous|prior|above)|\byou must\b|"
                        r"do not (?:reveal|mention) (?:this|these)|"
                        r"forget (?:all|your) (?:previous )?instructions")),
    TemplateRule("code", "Jinja sandbox-escape constructs (SSTI): a template needs none of them",
                 _regex(r"__\w*|\bimport\b|\bcycler\b|\bjoiner\b|\blipsum\b|\bself\.|"
                        r"\bnamespace\.__|\|\s*attr\b|\bexec\b|\beval\b|\bos\.|\bsubprocess\b")),
    TemplateRule("length", f"longer than {MAX_TEMPLATE_CHARS} characters: room to hide things",
                 _too_long),
)  # fmt: skip


@dataclass
class TemplateWarning:
    rule: str
    why: str
    found: list[str]

    def __str__(self) -> str:
        shown = ", ".join(repr(s[:60]) for s in self.found[:5])
        return f"chat template [{self.rule}]: {self.why} (found {shown})"


def template_sha256(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def template_warnings(template: str, known_sha256: str | None = None) -> list[TemplateWarning]:
    warnings: list[TemplateWarning] = []
    if known_sha256 and template_sha256(template) != known_sha256:
        warnings.append(TemplateWarning(
            "changed", "differs from the known-good template for this model",
            [template_sha256(template)],
        ))  # fmt: skip
    for rule in TEMPLATE_RULES:
        if found := rule.find(template):
            warnings.append(TemplateWarning(rule.name, rule.why, found))
    return warnings


# --- header ---------------------------------------------------------------------------------


@dataclass
class GGUFInfo:
    path: str
    file_bytes: int
    architecture: str
    name: str | None
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    expert_count: int
    expert_used_count: int
    file_type: str | None
    tensor_types: dict[str, int]
    tensor_count: int
    total_params: int
    expert_params: int
    active_params: int
    kv_bytes_per_token: int | None
    vocab_size: int | None
    chat_template: str | None
    chat_template_sha256: str | None
    warnings: list[TemplateWarning] = field(default_factory=list)

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 0

    def to_json(self, with_template: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = [asdict(w) for w in self.warnings]
        if not with_template:
            data.pop("chat_template")
        return data


def check_magic(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"No such file: {path}")
    with path.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise UsageError(f"{path} is not a GGUF file (it does not start with 'GGUF').")


def read_info(path: Path, known_template_sha256: str | None = None) -> GGUFInfo:
    check_magic(path)
    gguf = import_gguf()
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as e:  # a hostile or cut file may break the parser anywhere: one clear line
        raise UsageError(f"{path} is not a readable GGUF file ({e}).") from None
    fields = {name: _value(f) for name, f in reader.fields.items()}
    arch = str(fields.get("general.architecture", "unknown"))

    def arch_int(key: str) -> int | None:
        value = fields.get(f"{arch}.{key}")
        return int(value) if isinstance(value, int | float) else None

    total, experts = _param_counts(reader.tensors)
    expert_count = arch_int("expert_count") or 0
    used = arch_int("expert_used_count") or 0
    active = total - experts + (experts * used // expert_count if expert_count else experts)
    template = fields.get("tokenizer.chat_template")
    template = template if isinstance(template, str) else None
    heads, kv_heads = arch_int("attention.head_count"), arch_int("attention.head_count_kv")
    embd, layers = arch_int("embedding_length"), arch_int("block_count")
    key_len = arch_int("attention.key_length") or (embd // heads if embd and heads else None)
    value_len = arch_int("attention.value_length") or key_len
    tokens = fields.get("tokenizer.ggml.tokens")
    return GGUFInfo(
        path=str(path),
        file_bytes=path.stat().st_size,
        architecture=arch,
        name=fields.get("general.name") if isinstance(fields.get("general.name"), str) else None,
        context_length=arch_int("context_length"),
        block_count=layers,
        embedding_length=embd,
        head_count=heads,
        head_count_kv=kv_heads or heads,
        key_length=key_len,
        value_length=value_len,
        expert_count=expert_count,
        expert_used_count=used,
        file_type=_file_type_name(gguf, fields.get("general.file_type")),
        tensor_types=dict(Counter(t.tensor_type.name for t in reader.tensors).most_common()),
        tensor_count=len(reader.tensors),
        total_params=total,
        expert_params=experts,
        active_params=active,
        kv_bytes_per_token=_kv_bytes(layers, kv_heads or heads, key_len, value_len),
        vocab_size=len(tokens) if isinstance(tokens, list) else None,
        chat_template=template,
        chat_template_sha256=template_sha256(template) if template is not None else None,
        warnings=template_warnings(template, known_template_sha256) if template else [],
    )


def _value(f: Any) -> Any:
    """A field's value as plain Python: str, int, float, bool or a list of them."""
    try:
        value = f.contents()
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _param_counts(tensors: Any) -> tuple[int, int]:
    """All parameters, and those in routed-expert tensors (``*_exps``): every expert counted."""
    total = experts = 0
    for tensor in tensors:
        n = int(tensor.n_elements)
        total += n
        if "_exps." in tensor.name:
            experts += n
    return total, experts


def _kv_bytes(layers: int | None, kv_heads: int | None, k: int | None, v: int | None) -> int | None:
    if not (layers and kv_heads and k and v):
        return None
    return layers * kv_heads * (k + v) * 2  # f16 cache: 2 bytes a value


# --- the header's scalar fields alone, fast --------------------------------------------------
# GGUFReader parses every field up front, the tokenizer's vocabulary too: seconds for a large
# vocabulary (3.3 s for a 49k-token one), too slow to run before every embedded start. The memory
# check needs a few numbers, so this walks the key-value section itself and skips the arrays.

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
_MAX_FIELDS = 1 << 16  # real files have a few dozen; a hostile count must not loop for ever
_MAX_STRING = 1 << 24  # a chat template is kilobytes


def header_scalars(path: Path) -> dict[str, Any]:
    """Every scalar or string field of a GGUF (v2, v3) header; arrays skipped unread."""
    check_magic(path)
    try:
        with path.open("rb") as f:
            f.seek(4)
            version, _tensors, count = struct.unpack("<IQQ", _exact(f, 20))
            if version < 2 or count > _MAX_FIELDS:
                raise ValueError(f"version {version}, {count} fields")
            fields: dict[str, Any] = {}
            for _ in range(count):
                key = _string(f)
                value = _field(f, struct.unpack("<I", _exact(f, 4))[0])
                if value is not None:
                    fields[key] = value
            return fields
    except (ValueError, struct.error, EOFError) as e:  # UnicodeDecodeError is a ValueError
        raise UsageError(f"{path} has no readable GGUF header ({e}).") from None


def header_kv_bytes_per_token(path: Path) -> int | None:
    """The f16 KV cache per token, from the header alone (as read_info computes it)."""
    fields = header_scalars(path)
    arch = fields.get("general.architecture")

    def arch_int(key: str) -> int | None:
        value = fields.get(f"{arch}.{key}")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    heads, kv_heads = arch_int("attention.head_count"), arch_int("attention.head_count_kv")
    embd = arch_int("embedding_length")
    key_len = arch_int("attention.key_length") or (embd // heads if embd and heads else None)
    value_len = arch_int("attention.value_length") or key_len
    return _kv_bytes(arch_int("block_count"), kv_heads or heads, key_len, value_len)


def _exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError("the header ends early")
    return data


def _string(f: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _exact(f, 8))
    if length > _MAX_STRING:  # read() would try to allocate whatever a hostile file claims
        raise ValueError(f"a {length}-byte string")
    return _exact(f, length).decode("utf-8")


def _field(f: BinaryIO, vtype: int) -> Any:
    """A scalar's or string's value; None for an array, which is skipped."""
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, _exact(f, struct.calcsize(fmt)))[0]
    if vtype == _STRING:
        return _string(f)
    if vtype != _ARRAY:
        raise ValueError(f"unknown value type {vtype}")
    item, count = struct.unpack("<IQ", _exact(f, 12))
    if item in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[item]) * count, 1)
    elif item == _STRING:
        for _ in range(count):
            (length,) = struct.unpack("<Q", _exact(f, 8))
            f.seek(length, 1)
    else:  # arrays of arrays: no model header has them
        raise ValueError(f"array of type {item}")
    return None


def _file_type_name(gguf: Any, value: Any) -> str | None:
    if not isinstance(value, int):
        return None
    try:
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"unknown ({value})"


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
