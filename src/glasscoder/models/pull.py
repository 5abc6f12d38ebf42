"""`glasscoder models pull NAME`: the one place glasscoder downloads a model file.

This module is, with guard/egress.py, the only one allowed to reach the network (through
huggingface_hub): a download happens only when the person runs `models pull` (or a run with
`--pull`, which calls the same code: models/prepare.py), and every pull is written to a
hash-chained audit log (`models log`). Nothing else downloads, not `--model NAME` by itself.

The file is fetched into ``<models>/<file>.<etag-id>.incomplete`` and renamed to its final name
only after its SHA-256 matched the pin (or, for an unpinned entry pulled with --trust-unpinned,
the hash recorded on first use). So a file under its final name in the models folder was verified
when it was pulled, which is what lets `run` use it without re-hashing gigabytes on every start.

huggingface_hub's own ``hf_hub_download`` keeps no partial file across processes (each attempt
downloads to a process-unique temporary file it deletes on failure), so resuming after a cut is
done here: its ``http_get`` with ``resume_size`` asks for the missing bytes with a Range header.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glasscoder.config import data_home
from glasscoder.errors import ModelUnavailable, UsageError, UserFacingError
from glasscoder.guard.audit import AuditLog
from glasscoder.models.registry import ModelSpec

CONFIRM_BYTES = 1_000_000_000  # above this, a person must say yes (1 GB)
DEFAULT_ENDPOINT = "https://huggingface.co"


class HashMismatch(UserFacingError):
    """The downloaded bytes are not the ones pinned or trusted; they were deleted."""

    exit_code = 1


@dataclass(frozen=True)
class PullResult:
    path: Path
    sha256: str
    bytes: int
    outcome: str  # "ok" (downloaded and verified) or "present" (already there and verified)


def models_dir() -> Path:
    return data_home() / "models"


def pulled_path(spec: ModelSpec) -> Path | None:
    """The verified file `pull` left for this entry, if there is one."""
    if spec.hub_file is None:
        return None
    path = models_dir() / spec.hub_file
    return path if path.is_file() else None


# --- Trust on first use -------------------------------------------------------------------


def _trust_path() -> Path:
    return models_dir() / "trusted.json"


def _trust_key(spec: ModelSpec) -> str:
    return f"{spec.hub_repo}/{spec.hub_file}@{spec.revision or 'main'}"


def _read_trust() -> dict[str, Any]:
    path = _trust_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # A damaged trust store must not silently become "trust anything".
        raise UserFacingError(f"Cannot read {path}: {exc}. Fix or remove it.") from exc
    return data if isinstance(data, dict) else {}


def trusted_sha256(spec: ModelSpec) -> str | None:
    """The hash recorded on first use of an unpinned entry, if any."""
    record = _read_trust().get(_trust_key(spec))
    return record.get("sha256") if isinstance(record, dict) else None


def _record_trust(spec: ModelSpec, sha256: str, size: int) -> None:
    data = _read_trust()
    data[_trust_key(spec)] = {"name": spec.name, "sha256": sha256, "bytes": size}
    path = _trust_path()
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a trust store


def expected_sha256(spec: ModelSpec) -> str | None:
    return spec.sha256 or trusted_sha256(spec)


# --- The pull -----------------------------------------------------------------------------


def check_pullable(spec: ModelSpec, trust_unpinned: bool) -> None:
    if spec.serving == "server-only" or not spec.hub_repo or not spec.hub_file:
        raise UsageError(
            f"{spec.name} is served by vLLM or SGLang, not pulled as one file; "
            f"see `glasscoder models serve-cmd {spec.name}`."
        )
    if spec.sha256 is None and not trust_unpinned:
        raise UsageError(
            f"{spec.name} is unpinned (no SHA-256 confirmed from public material). Pass "
            "--trust-unpinned to download it and record the hash seen (trust on first use)."
        )


def pull(
    spec: ModelSpec,
    *,
    trust_unpinned: bool = False,
    confirm: Callable[[int], bool],
    endpoint: str | None = None,
    token: str | None = None,
) -> PullResult:
    """Download, verify and record `spec`'s file; raise a UserFacingError on any refusal."""
    check_pullable(spec, trust_unpinned)
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(folder / "pulls.jsonl")
    present = _already_pulled(spec, audit)
    if present is not None:
        return present
    hub = _import_hub()
    url = hub.hf_hub_url(spec.hub_repo, spec.hub_file, revision=spec.revision or "main",
                         endpoint=_endpoint(endpoint))  # fmt: skip
    headers = hub.utils.build_hf_headers(token=token or False, library_name="glasscoder")
    meta = _metadata(hub, url, headers, audit, spec)
    size = meta.size or spec.file_bytes or 0
    if size > CONFIRM_BYTES and not confirm(size):
        raise UsageError(f"Not downloading {spec.hub_file} ({size / 1e9:.1f} GB): not confirmed.")
    partial = _partial_path(folder, spec, meta.etag)
    _download(hub, meta, partial, headers, audit, spec, url)
    return _verify_and_place(spec, partial, folder / str(spec.hub_file), audit, url, meta)


def _import_hub() -> Any:
    # Set before the import: huggingface_hub reads these once, into module constants.
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"  # a stored login is never sent by itself
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.utils
    except ImportError as exc:
        raise UsageError(
            "`models pull` needs huggingface_hub: pip install 'glasscoder[local]'."
        ) from exc
    # Again on the constants, in case something imported huggingface_hub before us: with
    # telemetry on, building the User-Agent fetches {endpoint}/api/agent-harnesses, a request
    # nobody asked for (seen with huggingface_hub 2.4.0).
    huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY = True
    huggingface_hub.constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
    return huggingface_hub


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _already_pulled(spec: ModelSpec, audit: AuditLog) -> PullResult | None:
    path = pulled_path(spec)
    expected = expected_sha256(spec)
    if path is None or expected is None:
        return None
    seen = file_sha256(path)
    if seen != expected:
        path.unlink()  # not what was verified: fetch it again rather than keep it
        return None
    size = path.stat().st_size
    audit.append("pull", {"name": spec.name, "url": None, "revision": spec.revision,
                          "bytes": size, "sha256": seen, "outcome": "present"})  # fmt: skip
    return PullResult(path, seen, size, "present")


def _metadata(hub: Any, url: str, headers: dict[str, str], audit: AuditLog, spec: ModelSpec) -> Any:
    try:
        meta = hub.get_hf_file_metadata(url, headers=headers, token=False)
    except Exception as exc:  # httpx2's errors cannot be named here (single-egress rule)
        _record(audit, spec, url, None, 0, None, "unreachable")
        raise ModelUnavailable(f"Cannot reach the hub for {url}: {_reason(exc)}.") from exc
    if meta.etag is None or meta.commit_hash is None:
        _record(audit, spec, url, None, 0, None, "unreachable")
        raise ModelUnavailable(f"{url} did not answer like a Hugging Face hub (no ETag/commit).")
    return meta


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _partial_path(folder: Path, spec: ModelSpec, etag: str) -> Path:
    """Named after the hub's ETag: bytes of a different upload are never resumed into it."""
    tag = hashlib.sha256(etag.encode()).hexdigest()[:16]
    partial = folder / f"{spec.hub_file}.{tag}.incomplete"
    for stale in folder.glob(f"{spec.hub_file}.*.incomplete"):
        if stale != partial:
            stale.unlink()
    return partial


def _download(hub: Any, meta: Any, partial: Path, headers: dict[str, str], audit: AuditLog,
              spec: ModelSpec, url: str) -> None:  # fmt: skip
    from huggingface_hub.file_download import http_get

    done = partial.stat().st_size if partial.exists() else 0
    if _origin(meta.location) != _origin(url):
        # The hub redirected to a storage host (a signed URL): a hub token must not follow.
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    try:
        with partial.open("ab") as f:
            http_get(meta.location, f, resume_size=done, headers=headers,
                     expected_size=meta.size, displayed_filename=spec.hub_file)  # fmt: skip
    except Exception as exc:  # the partial file stays for the next pull to resume
        got = partial.stat().st_size if partial.exists() else 0
        _record(audit, spec, url, meta.commit_hash, got, None, "interrupted")
        raise ModelUnavailable(
            f"Download of {spec.hub_file} stopped at {got} bytes ({_reason(exc)}); "
            f"run `glasscoder models pull {spec.name}` again to resume."
        ) from exc


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _verify_and_place(spec: ModelSpec, partial: Path, dest: Path, audit: AuditLog, url: str,
                      meta: Any) -> PullResult:  # fmt: skip
    seen = file_sha256(partial)
    size = partial.stat().st_size
    expected = expected_sha256(spec)
    if expected is not None and seen != expected:
        partial.unlink()  # keep nothing unverified
        _record(audit, spec, url, meta.commit_hash, size, seen, "mismatch")
        raise HashMismatch(
            f"{spec.hub_file} has SHA-256 {seen}, expected {expected}; the file was deleted."
        )
    if expected is None:  # unpinned, pulled with --trust-unpinned, first time
        _record_trust(spec, seen, size)
    partial.replace(dest)
    _record(audit, spec, url, meta.commit_hash, size, seen, "ok")
    return PullResult(dest, seen, size, "ok")


def _record(audit: AuditLog, spec: ModelSpec, url: str, commit: str | None, size: int,
            sha256: str | None, outcome: str) -> None:  # fmt: skip
    audit.append("pull", {"name": spec.name, "url": url, "revision": spec.revision,
                          "commit": commit, "bytes": size, "sha256": sha256,
                          "outcome": outcome})  # fmt: skip


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def interactive() -> bool:
    return sys.stdin.isatty()


def pull_and_report(spec: ModelSpec, *, trust_unpinned: bool, token: str | None,
                    confirm: Callable[[int], bool], say: Callable[[str], None],
                    note: Callable[[str], None]) -> Path:  # fmt: skip
    """Pull and verify `spec`'s file, saying what happened (`models pull`, `--pull`)."""
    from glasscoder.models.registry import size_text

    check_pullable(spec, trust_unpinned)  # refuse before anything touches the network
    result = pull(spec, trust_unpinned=trust_unpinned, token=token, confirm=confirm)
    if result.outcome == "present":
        say(f"{spec.name}: already pulled and verified: {result.path}")
    else:
        say(f"{spec.name}: ok, sha256 {result.sha256}, {size_text(result.bytes)}: {result.path}")
    if spec.sha256 is None:
        note("unpinned: this hash was recorded on first use; later pulls and "
             "`models verify` compare against it.")  # fmt: skip
    return result.path
