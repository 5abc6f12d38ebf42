"""`glasscoder models pull`: against a fake hub on 127.0.0.1, never the real one."""

import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glasscoder.cli import main
from glasscoder.guard import audit
from glasscoder.models import pull, registry
from tests.fakes.fake_hub import FakeHub

DATA = b"GGUF" + random.Random(7).randbytes(300_000)  # the magic, so `verify` reads it
SHA = hashlib.sha256(DATA).hexdigest()
REVISION = "3aa24f1361edaa90f54f6b791be47aa521ea6370"


def entry(sha256: str | None, revision: str | None = REVISION) -> registry.ModelSpec:
    base = registry.find("qwen2.5-coder-7b")
    assert base is not None
    return dataclasses.replace(base, name="tiny-moe", hub_repo="test/tiny", hub_file="tiny.gguf",
                               revision=revision, sha256=sha256, file_bytes=len(DATA))  # fmt: skip


def use(monkeypatch: pytest.MonkeyPatch, spec: registry.ModelSpec) -> None:
    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS, spec))


@pytest.fixture
def hub(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub("test/tiny", "tiny.gguf", DATA, revision=REVISION) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        # huggingface_hub waits 1 s before retrying a cut download; the tests need not.
        monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda _s: None)
        # Bytes reach the file a chunk (10 MB) at a time, so a cut loses the chunk in flight;
        # small chunks let a 300 kB test file keep what arrived before the cut.
        monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 1000)
        yield fake


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *args: str) -> tuple[int, str, str]:  # fmt: skip
    """The real entry point in-process (so the patched registry counts): code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["glasscoder", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def models() -> Path:
    return pull.models_dir()


def pulls() -> list[dict]:
    return list(audit.iter_records(models() / "pulls.jsonl"))


def test_pull_pinned_places_the_verified_file(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    code, out, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 0, err
    assert f"tiny-moe: ok, sha256 {SHA}" in out
    assert (models() / "tiny.gguf").read_bytes() == DATA
    assert not list(models().glob("*.incomplete"))
    assert [m for m, _, _ in hub.requests] == ["HEAD", "GET"], hub.requests
    assert all(p == f"/test/tiny/resolve/{REVISION}/tiny.gguf" for _, p, _ in hub.requests)
    assert all("authorization" not in h for _, _, h in hub.requests)  # no implicit token
    code, out, _ = run(monkeypatch, capsys, "models", "verify", str(models() / "tiny.gguf"))
    assert code == 0 and "tiny-moe: ok, sha256 matches" in out
    # A second pull finds the verified file and downloads nothing.
    code, out, _ = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 0 and "already pulled" in out and len(hub.requests) == 2


def test_a_cut_download_resumes_where_it_stopped(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    hub.cut_after, hub.down_after_cut = 100_000, True  # cut, then the hub goes away
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 3 and "stopped at 100000 bytes" in err and "again to resume" in err
    assert "Traceback" not in err
    assert not (models() / "tiny.gguf").exists()
    (partial,) = models().glob("tiny.gguf.*.incomplete")
    assert partial.stat().st_size == 100_000
    hub.down = False
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 0, err
    assert hub.ranges()[-1] == "bytes=100000-"  # only the missing part was fetched
    assert (models() / "tiny.gguf").read_bytes() == DATA
    assert [r["outcome"] for r in pulls()] == ["interrupted", "ok"]


def test_a_cut_is_retried_within_one_pull(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    hub.cut_after = 50_000  # the hub stays up: huggingface_hub resumes by itself
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 0, err
    assert hub.ranges() == [None, "bytes=50000-"]
    assert (models() / "tiny.gguf").read_bytes() == DATA


def test_hash_mismatch_is_refused_and_nothing_kept(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry("0" * 64))
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 1
    assert f"tiny.gguf has SHA-256 {SHA}, expected {'0' * 64}; the file was deleted." in err
    assert "Traceback" not in err
    assert sorted(p.name for p in models().iterdir()) == ["pulls.jsonl"]
    assert pulls()[-1]["outcome"] == "mismatch"


def test_unpinned_is_refused_without_the_flag(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(None, revision=None))
    hub.revision = "main"
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 2 and "unpinned" in err and "--trust-unpinned" in err
    assert hub.requests == []  # refused before touching the network


def test_unpinned_with_the_flag_records_the_hash_seen(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(None, revision=None))
    hub.revision = "main"
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe", "--trust-unpinned")
    assert code == 0, err
    trusted = json.loads((models() / "trusted.json").read_text())
    assert trusted["test/tiny/tiny.gguf@main"]["sha256"] == SHA
    path = str(models() / "tiny.gguf")
    code, out, _ = run(monkeypatch, capsys, "models", "verify", path, "--name", "tiny-moe")
    assert code == 0 and "recorded on first use" in out
    # The hub now serves other bytes: a later pull compares against the recorded hash.
    (models() / "tiny.gguf").unlink()
    hub.data = DATA[::-1]
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe", "--trust-unpinned")
    assert code == 1 and "the file was deleted" in err
    assert not (models() / "tiny.gguf").exists()


def test_verify_reports_a_changed_file_against_the_recorded_hash(hub, monkeypatch,
                                                                 capsys) -> None:  # fmt: skip
    use(monkeypatch, entry(None, revision=None))
    hub.revision = "main"
    assert run(monkeypatch, capsys, "models", "pull", "tiny-moe", "--trust-unpinned")[0] == 0
    (models() / "tiny.gguf").write_bytes(DATA[:-1])
    path = str(models() / "tiny.gguf")
    code, out, _ = run(monkeypatch, capsys, "models", "verify", path, "--name", "tiny-moe")
    assert code == 1 and "MISMATCH: first use recorded" in out


def test_big_file_headless_needs_yes(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    hub.advertised_size = 2_000_000_000  # the HEAD answer says 2 GB
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 2 and "pass --yes" in err
    assert [m for m, _, _ in hub.requests] == ["HEAD"]  # nothing downloaded


def test_big_file_interactive_asks(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    hub.advertised_size = 2_000_000_000
    monkeypatch.setattr(pull, "interactive", lambda: True)
    monkeypatch.setattr("click.confirm", lambda *a, **k: False)
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 2 and "not confirmed" in err
    assert [m for m, _, _ in hub.requests] == ["HEAD"]


def test_big_file_with_yes_downloads(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    monkeypatch.setattr(pull, "CONFIRM_BYTES", 1000)  # the 300 kB file counts as big
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe", "--yes")
    assert code == 0, err


def test_unknown_and_server_only_names_are_usage_errors(xdg, monkeypatch, capsys) -> None:
    code, _, err = run(monkeypatch, capsys, "models", "pull", "qwen3-coder-7b")
    assert code == 2 and "Did you mean" in err
    code, _, err = run(monkeypatch, capsys, "models", "pull", "qwen3-coder-480b-a35b")
    assert code == 2 and "serve-cmd" in err


def test_hub_down_exits_3_without_a_traceback(xdg: Path) -> None:
    with FakeHub("x/y", "z", b"") as gone:
        url = gone.url
    proc = subprocess.run(
        [sys.executable, "-m", "glasscoder", "models", "pull", "qwen2.5-coder-7b"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "HF_ENDPOINT": url, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert (
        proc.stderr.startswith("glasscoder: Cannot reach the hub")
        and "Traceback" not in proc.stderr
    )
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_pull_log_is_a_verified_chain(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    hub.cut_after, hub.down_after_cut = 1000, True
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    hub.down = False
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    result = audit.verify(models() / "pulls.jsonl")
    assert result.ok and result.records == 3, result.reason
    first, second, third = pulls()
    assert first["url"] == f"{hub.url}/test/tiny/resolve/{REVISION}/tiny.gguf"
    assert (first["outcome"], first["bytes"], first["sha256"]) == ("interrupted", 1000, None)
    assert (second["outcome"], second["bytes"], second["sha256"]) == ("ok", len(DATA), SHA)
    assert second["revision"] == REVISION and third["outcome"] == "present"


def test_run_with_a_pulled_name_uses_the_file(hub, monkeypatch, capsys) -> None:
    from glasscoder import run as run_module
    from glasscoder.config import Settings

    use(monkeypatch, entry(SHA))
    settings = Settings(model="tiny-moe", endpoint=None)
    with pytest.raises(Exception, match="must be pulled first"):
        run_module._choose_backend(settings, None)
    assert run(monkeypatch, capsys, "models", "pull", "tiny-moe")[0] == 0
    assert run_module._gguf_file(Settings(model="tiny-moe", endpoint=None)) == (
        models() / "tiny.gguf"
    )
