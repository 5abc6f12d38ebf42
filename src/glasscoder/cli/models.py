"""`glasscoder models ...`: the known models, checking and pulling their files, serving them."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from glasscoder.errors import UsageError
from glasscoder.models import registry
from glasscoder.models.registry import ModelSpec

ENGINE_PORTS = {"vllm": 8000, "sglang": 30000}  # each engine's own default port
Say = Callable[[str], None]


def _to_stderr(text: str) -> None:
    click.echo(text, err=True)


_size = registry.size_text


def _pin(model: ModelSpec) -> str:
    if model.hub_file is None:
        return "n/a (server)"
    return f"pinned {model.sha256[:12]}" if model.sha256 else "unpinned"


def list_command(as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([_spec_json(m) for m in registry.MODELS], indent=2))
        return
    rows = [("name", "size", "quant", "RAM", "licence", "mode", "pin")]
    for m in registry.MODELS:
        name = m.name + (" *" if m.name == registry.DEFAULT_MODEL else "")
        ram = _size(m.ram_bytes) if m.serving == "embedded" else "-"
        rows.append((name, _size(m.file_bytes), m.quantization, ram, m.licence, m.serving, _pin(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"\n* default. RAM: file + f16 KV cache for {registry.DEFAULT_CONTEXT} tokens "
               "+ 1 GiB; see docs/models.md.")  # fmt: skip


def _spec_json(m: ModelSpec) -> dict[str, Any]:
    return {
        "name": m.name, "description": m.description, "default": m.name == registry.DEFAULT_MODEL,
        "serving": m.serving, "licence": m.licence, "server_repo": m.server_repo,
        "hub_repo": m.hub_repo, "hub_file": m.hub_file, "revision": m.revision,
        "quantization": m.quantization, "file_bytes": m.file_bytes, "ram_bytes": m.ram_bytes,
        "sha256": m.sha256, "pinned": m.pinned, "total_params_b": m.total_params,
        "active_params_b": m.active_params, "context_length": m.context_length,
        "experts": m.experts, "experts_used": m.experts_used,
        "kv_bytes_per_token": m.kv_bytes_per_token, "confirmed": m.confirmed,
        "unconfirmed": m.unconfirmed,
    }  # fmt: skip


def _known_template(path: Path) -> str | None:
    spec = registry.by_file_name(path.name)
    return spec.template_sha256 if spec else None


def inspect_command(path: Path, as_json: bool) -> None:
    from glasscoder.models.gguf_info import read_info

    info = read_info(path, _known_template(path))
    if as_json:
        click.echo(json.dumps(info.to_json(), indent=2))
        return
    for label, value in _inspect_lines(info):
        click.echo(f"{label + ':':22} {value}")
    for warning in info.warnings:
        click.echo(f"warning: {warning}", err=True)


def _inspect_lines(info: Any) -> list[tuple[str, str]]:
    experts = (f"{info.expert_count} ({info.expert_used_count} used per token)"
               if info.is_moe else "none (dense)")  # fmt: skip
    kv = info.kv_bytes_per_token
    kv_text = f"{kv:,} bytes (f16); {kv * 32768 / 2**30:.2f} GiB at 32768 tokens" if kv else "?"
    return [
        ("file", f"{info.path} ({_size(info.file_bytes)})"),
        ("architecture", info.architecture),
        ("name", info.name or "-"),
        ("context length", str(info.context_length)),
        ("layers", str(info.block_count)),
        ("embedding", str(info.embedding_length)),
        ("heads (kv)", f"{info.head_count} ({info.head_count_kv}), head dim {info.key_length}"),
        ("experts", experts),
        ("parameters", f"{info.total_params:,} total, {info.active_params:,} active per token"),
        ("quantization", f"{info.file_type}; tensors: "
                         + ", ".join(f"{k} {v}" for k, v in info.tensor_types.items())),
        ("KV cache per token", kv_text),
        ("vocabulary", str(info.vocab_size)),
        ("chat template sha256", info.chat_template_sha256 or "none (no template in the file)"),
    ]  # fmt: skip


def verify_target_command(target: str | None, name: str | None) -> int:
    """`models verify [NAME|PATH]`: a registry name checks its pulled file; none checks all."""
    if target is None:
        return _verify_all_pulled()
    path = Path(target).expanduser()
    looks_like_path = target.lower().endswith(".gguf") or os.sep in target
    if path.exists() or (looks_like_path and registry.find(target) is None):
        return verify_command(path, name)
    if name is not None:
        raise UsageError("--name goes with a file path; `models verify NAME` alone checks NAME.")
    # A pulled file that is no GGUF any more is a mismatch (exit 1), not a usage error.
    return verify_command(_require_pulled(require_model(target)), target, require_gguf=False)


def _require_pulled(spec: ModelSpec) -> Path:
    from glasscoder.models.pull import models_dir, pulled_path

    if spec.hub_file is None:
        raise UsageError(f"{spec.name} is served by vLLM or SGLang: there is no file to verify.")
    path = pulled_path(spec)
    if path is None:
        raise UsageError(f"{spec.name} is not pulled (no {spec.hub_file} in {models_dir()}); "
                         f"run `glasscoder models pull {spec.name}`.")  # fmt: skip
    return path


def _verify_all_pulled() -> int:
    from glasscoder.models.pull import models_dir, pulled_path

    pulled = [(spec, path) for spec in registry.MODELS if (path := pulled_path(spec))]
    if not pulled:
        raise UsageError(f"No pulled models in {models_dir()}; nothing to verify.")
    return max(verify_command(path, spec.name, require_gguf=False) for spec, path in pulled)


def verify_command(path: Path, name: str | None, require_gguf: bool = True) -> int:
    from glasscoder.models import gguf_info

    if require_gguf:
        gguf_info.check_magic(path)
    spec = _spec_for(path, name)
    seen = gguf_info.file_sha256(path)
    code = 0
    if spec is None:
        click.echo(f"{path.name}: not in the registry, so nothing to check it against.")
        click.echo(f"sha256 seen: {seen}")
    elif spec.sha256 is None:
        code = _verify_trusted(spec, seen)
    elif spec.sha256 == seen:
        click.echo(f"{spec.name}: ok, sha256 matches the pin {seen}")
    else:
        click.echo(f"{spec.name}: MISMATCH: expected {spec.sha256}, file has {seen}")
        code = 1
    _print_template_warnings(path, spec)
    return code


def _verify_trusted(spec: ModelSpec, seen: str) -> int:
    """An unpinned entry: compare against the hash `pull --trust-unpinned` recorded, if any."""
    from glasscoder.models.pull import trusted_sha256

    trusted = trusted_sha256(spec)
    if trusted is None:
        click.echo(f"{spec.name}: unpinned (no SHA-256 confirmed from public material).")
        click.echo(f"sha256 seen: {seen}  (record it to notice a later change)")
        return 0
    if trusted == seen:
        click.echo(f"{spec.name}: ok, sha256 matches the hash recorded on first use {seen} "
                   "(unpinned: trusted on first use)")  # fmt: skip
        return 0
    click.echo(f"{spec.name}: MISMATCH: first use recorded {trusted}, file has {seen}")
    return 1


def _spec_for(path: Path, name: str | None) -> ModelSpec | None:
    if name is None:
        return registry.by_file_name(path.name)
    return require_model(name)


def _print_template_warnings(path: Path, spec: ModelSpec | None) -> None:
    from glasscoder.models import gguf_info

    try:
        info = gguf_info.read_info(path, spec.template_sha256 if spec else None)
    except UsageError as e:  # the hash check stands on its own; say what was not checked
        click.echo(f"chat template not checked: {e}", err=True)
        return
    for warning in info.warnings:
        click.echo(f"warning: {warning}", err=True)


require_model = registry.require


def serve_command(name: str, engine: str, gpus: int, port: int | None,
                  context: int | None) -> None:  # fmt: skip
    spec = require_model(name)
    port = port or ENGINE_PORTS[engine]
    context = context or spec.serve_context
    if context > spec.context_length:
        raise UsageError(f"{spec.name} supports at most {spec.context_length} tokens of context.")
    argv = (_vllm if engine == "vllm" else _sglang)(spec, gpus, port, context)
    click.echo(shlex.join(argv))
    click.echo(shlex.join(["glasscoder", "--endpoint", f"http://127.0.0.1:{port}/v1",
                           "--model", spec.server_repo]))  # fmt: skip
    per_gpu = spec.bf16_weight_bytes / gpus
    click.echo(f"# BF16 weights ~{_size(spec.bf16_weight_bytes)}, ~{_size(per_gpu)} per GPU "
               "before KV cache; see docs/models.md.", err=True)  # fmt: skip


def _vllm(spec: ModelSpec, gpus: int, port: int, context: int) -> list[str]:
    argv = ["vllm", "serve", spec.server_repo, "--port", str(port)]
    if gpus > 1:
        argv += ["--tensor-parallel-size", str(gpus)]
        if spec.is_moe:  # experts spread whole over the GPUs instead of each sliced N ways
            argv.append("--enable-expert-parallel")
    argv += ["--max-model-len", str(context), "--enable-auto-tool-choice",
             "--tool-call-parser", spec.tool_parsers["vllm"]]  # fmt: skip
    return argv


def _sglang(spec: ModelSpec, gpus: int, port: int, context: int) -> list[str]:
    argv = ["python", "-m", "sglang.launch_server", "--model-path", spec.server_repo,
            "--port", str(port)]  # fmt: skip
    if gpus > 1:
        argv += ["--tp-size", str(gpus)]
        if spec.is_moe:
            argv += ["--ep-size", str(gpus)]
    argv += ["--context-length", str(context), "--tool-call-parser", spec.tool_parsers["sglang"]]
    return argv


def pull_command(name: str, trust_unpinned: bool, yes: bool, token_env: str | None) -> None:
    pull_model(require_model(name), trust_unpinned=trust_unpinned, yes=yes, token_env=token_env)


def pull_model(spec: ModelSpec, *, trust_unpinned: bool, yes: bool,
               token_env: str | None = None) -> Path:  # fmt: skip
    """`models pull` itself: the size asked about on a terminal, the messages printed."""
    from glasscoder.models.pull import pull_and_report

    return pull_and_report(spec, trust_unpinned=trust_unpinned, token=_token(token_env),
                           confirm=lambda size: _confirm_size(spec, size, yes),
                           say=click.echo, note=_to_stderr)  # fmt: skip


def _token(token_env: str | None) -> str | None:
    # Only a variable the person names is read: a stored hub login is never sent by itself.
    if token_env is None:
        return None
    token = os.environ.get(token_env)
    if not token:
        raise UsageError(f"--hf-token-env {token_env}: that environment variable is not set.")
    return token


def _confirm_size(spec: ModelSpec, size: int, yes: bool) -> bool:
    if yes:
        return True
    from glasscoder.models.pull import interactive

    if not interactive():  # headless: never download gigabytes without being told to
        raise UsageError(f"{spec.name} is {_size(size)}; pass --yes to download it "
                         "without a prompt.")  # fmt: skip
    return click.confirm(f"Download {spec.hub_file} ({_size(size)})?", default=False)


# --- the pull log ---------------------------------------------------------------------------


def log_command(check: bool, as_json: bool) -> int:
    """`models log`: every pull recorded in pulls.jsonl; with --verify, check its hash chain."""
    from glasscoder.guard.audit import iter_records, verify
    from glasscoder.models.pull import models_dir

    path = models_dir() / "pulls.jsonl"
    if not path.is_file():
        raise UsageError(f"No pull log at {path}: nothing has been pulled yet.")
    if check:
        result = verify(path)
        if result.ok:
            click.echo(f"{path}: ok ({result.records} records, chain intact)")
            return 0
        where = "" if result.first_bad is None else f" at record {result.first_bad}"
        click.echo(f"{path}: FAILED{where}: {result.reason}")
        return 1
    for record in iter_records(path):
        click.echo(json.dumps(record, ensure_ascii=False) if as_json else _log_line(record))
    return 0


def _log_line(record: dict[str, Any]) -> str:
    from glasscoder.safetext import printable

    sha, size = record.get("sha256"), record.get("bytes")
    cells = [
        f"#{record.get('seq')}", record.get("ts"), record.get("outcome", record.get("kind")),
        record.get("name"), _size(size) if isinstance(size, int) else "-",
        f"sha256 {str(sha)[:12]}" if sha else "-", record.get("url") or "(already pulled)",
    ]  # fmt: skip
    return printable("  ".join(str(c) for c in cells))  # a log is data: escapes shown, not sent
