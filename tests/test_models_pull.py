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
from typing import Any

import pytest

from glasscoder.cli.main import main
from glasscoder.guard import audit
from glasscoder.models import memory, pull, registry
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
    others = [m for m in registry.MODELS if m.name != spec.name]
    monkeypatch.setattr(registry, "MODELS", (*others, spec))


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
    from glasscoder.cli import output
    from glasscoder.cli import run as run_module

    monkeypatch.setattr(sys, "argv", ["glasscoder", *args])

    # output.py's printers take sys.stdout/stderr as default arguments, bound at its import, so
    # in-process they would write to the first importing test's (closed) capture: pass ours.
    def make_output(fmt: str) -> Any:
        return type(output.make_output(fmt))(sys.stdout, sys.stderr)

    monkeypatch.setattr(run_module, "make_output", make_output)
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
    from glasscoder.cli import run as run_module
    from glasscoder.config import Settings

    use(monkeypatch, entry(SHA))
    settings = Settings(model="tiny-moe", endpoint=None)
    with pytest.raises(Exception, match="must be pulled first"):
        run_module.choose_model_backend(settings, None)
    assert run(monkeypatch, capsys, "models", "pull", "tiny-moe")[0] == 0
    assert run_module._gguf_file(Settings(model="tiny-moe", endpoint=None)) == (
        models() / "tiny.gguf"
    )


# --- through a CDN redirect, as the real hub answers large files --------------------------


@pytest.fixture
def cdn_hub(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub("test/tiny", "tiny.gguf", DATA, revision=REVISION, cdn=True) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda _s: None)
        monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 1000)
        yield fake


def test_pull_follows_the_redirect_and_keeps_the_token_on_the_hub(cdn_hub, monkeypatch,
                                                                  capsys) -> None:  # fmt: skip
    use(monkeypatch, entry(SHA))
    monkeypatch.setenv("TINY_TOKEN", "hf_secret")
    code, out, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe",
                         "--hf-token-env", "TINY_TOKEN")  # fmt: skip
    assert code == 0, err
    assert cdn_hub.cdn is not None and cdn_hub.cdn.origin != cdn_hub.url  # another port
    assert [m for m, _, _ in cdn_hub.requests] == ["HEAD"]  # the bytes came from the CDN
    assert [(m, p) for m, p, _ in cdn_hub.cdn.requests] == [("GET", cdn_hub.blob_path)]
    assert cdn_hub.requests[0][2]["authorization"] == "Bearer hf_secret"
    assert "authorization" not in cdn_hub.cdn.requests[0][2]  # a signed URL needs no token
    assert (models() / "tiny.gguf").read_bytes() == DATA
    assert pulls()[-1]["url"] == f"{cdn_hub.url}/test/tiny/resolve/{REVISION}/tiny.gguf"
    code, out, _ = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 0 and f"tiny-moe: ok, sha256 matches the pin {SHA}" in out


def test_a_cut_at_the_cdn_resumes_across_the_redirect(cdn_hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    cdn_hub.cut_after, cdn_hub.down_after_cut = 100_000, True
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 3 and "stopped at 100000 bytes" in err
    cdn_hub.down = False
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 0, err
    assert cdn_hub.ranges()[0] is None and cdn_hub.ranges()[-1] == "bytes=100000-"
    assert [m for m, _, _ in cdn_hub.requests] == ["HEAD", "HEAD"]  # each pull asked the hub
    assert (models() / "tiny.gguf").read_bytes() == DATA
    assert [r["outcome"] for r in pulls()] == ["interrupted", "ok"]


def test_a_cdn_serving_other_bytes_is_refused(cdn_hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    cdn_hub.data = DATA[:-1] + b"!"  # same size, other bytes
    code, _, err = run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    assert code == 1 and "the file was deleted" in err
    assert not (models() / "tiny.gguf").exists()


# --- models verify NAME / no argument ------------------------------------------------------


def test_verify_by_name(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    code, _, err = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 2 and "tiny-moe is not pulled" in err
    assert "`glasscoder models pull tiny-moe`" in err and "Traceback" not in err
    code, _, err = run(monkeypatch, capsys, "models", "verify")
    assert code == 2 and "No pulled models" in err
    assert run(monkeypatch, capsys, "models", "pull", "tiny-moe")[0] == 0
    code, out, _ = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 0 and "tiny-moe: ok" in out
    code, out, _ = run(monkeypatch, capsys, "models", "verify")
    assert code == 0 and "tiny-moe: ok" in out
    (models() / "tiny.gguf").write_bytes(DATA[:-1] + b"!")
    code, out, _ = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 1 and "tiny-moe: MISMATCH" in out
    code, out, _ = run(monkeypatch, capsys, "models", "verify")
    assert code == 1 and "tiny-moe: MISMATCH" in out


def test_verify_by_name_of_an_unpinned_pull_uses_the_first_use_hash(hub, monkeypatch,
                                                                    capsys) -> None:  # fmt: skip
    use(monkeypatch, entry(None, revision=None))
    hub.revision = "main"
    assert run(monkeypatch, capsys, "models", "pull", "tiny-moe", "--trust-unpinned")[0] == 0
    code, out, _ = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 0 and "recorded on first use" in out
    (models() / "tiny.gguf").write_bytes(DATA[::-1])  # not even a GGUF now: still exit 1
    code, out, err = run(monkeypatch, capsys, "models", "verify", "tiny-moe")
    assert code == 1 and "MISMATCH: first use recorded" in out
    assert "chat template not checked" in err


def test_verify_names_and_paths_are_told_apart(xdg, monkeypatch, capsys) -> None:
    code, _, err = run(monkeypatch, capsys, "models", "verify", "qwen3-coder-7b")
    assert code == 2 and "Did you mean" in err
    code, _, err = run(monkeypatch, capsys, "models", "verify", "qwen3-coder-480b-a35b")
    assert code == 2 and "no file to verify" in err
    code, _, err = run(monkeypatch, capsys, "models", "verify", "nowhere/x.gguf")
    assert code == 2 and "No such file" in err
    code, _, err = run(monkeypatch, capsys, "models", "verify", "qwen2.5-coder-7b", "--name", "x")
    assert code == 2 and "--name goes with a file path" in err


# --- models log ----------------------------------------------------------------------------


def test_log_shows_and_verifies_the_pull_record(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    code, _, err = run(monkeypatch, capsys, "models", "log")
    assert code == 2 and "No pull log" in err
    hub.cut_after, hub.down_after_cut = 1000, True
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    hub.down = False
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    run(monkeypatch, capsys, "models", "pull", "tiny-moe")
    code, out, _ = run(monkeypatch, capsys, "models", "log")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith("#0 ") and "interrupted  tiny-moe" in lines[0]
    assert f"ok  tiny-moe  0.30 MB  sha256 {SHA[:12]}  {hub.url}/" in lines[1]
    assert "present" in lines[2] and "(already pulled)" in lines[2]
    code, out, _ = run(monkeypatch, capsys, "models", "log", "--json")
    assert [json.loads(line)["outcome"] for line in out.splitlines()] == [
        "interrupted", "ok", "present"
    ]  # fmt: skip
    code, out, _ = run(monkeypatch, capsys, "models", "log", "--verify")
    assert code == 0 and "ok (3 records, chain intact)" in out


def test_log_verify_names_the_changed_record(hub, monkeypatch, capsys) -> None:
    use(monkeypatch, entry(SHA))
    for _ in range(3):
        assert run(monkeypatch, capsys, "models", "pull", "tiny-moe")[0] == 0
    log = models() / "pulls.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"present"', b'"ok"')  # a "present" passed off as a download
    log.write_bytes(b"".join(lines))
    code, out, _ = run(monkeypatch, capsys, "models", "log", "--verify")
    assert code == 1 and "FAILED at record 1" in out and "record 1 was changed" in out


# --- glasscoder -p TASK --model NAME --pull ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from tests.fixtures.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf").read_bytes()


def fake_meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available_kib: int) -> None:
    """The machine's memory as the check will see it: a meminfo file of our own."""
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal: {available_kib * 2} kB\nMemAvailable: {available_kib} kB\n"
                    "SwapTotal: 0 kB\nSwapFree: 0 kB\n")  # fmt: skip
    monkeypatch.setattr(memory, "MEMINFO", path)


@pytest.fixture
def gguf_hub(xdg: Path, tiny_bytes: bytes, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:  # fmt: skip
    """The hub serving a real (tiny) GGUF, pinned as tiny-moe; 64 GiB of memory available."""
    fake_meminfo(tmp_path, monkeypatch, 64 * 2**20)
    with FakeHub("test/tiny", "tiny.gguf", tiny_bytes, revision=REVISION, cdn=True) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        use(monkeypatch, dataclasses.replace(entry(hashlib.sha256(tiny_bytes).hexdigest()),
                                             file_bytes=len(tiny_bytes)))  # fmt: skip
        yield fake


def test_run_pull_downloads_then_runs_embedded(gguf_hub, buggy_repo, xdg, monkeypatch,
                                               capsys) -> None:  # fmt: skip
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 8\ntemperature = 0.0\n")
    code, out, err = run(monkeypatch, capsys, "-p", "Say hi.", "--model", "tiny-moe", "--pull",
                         "--output-format", "json", "--max-turns", "1", "--threads", "2",
                         "--cwd", str(buggy_repo))  # fmt: skip
    assert code in (0, 1), err
    assert "tiny-moe is not pulled yet; pulling it (--pull)" in err
    assert "glasscoder: tiny-moe: ok, sha256" in err  # pull's own line, kept off stdout
    result = json.loads(out)  # stdout is the run's JSON alone
    assert result["usage"]["completion_tokens"] > 0
    assert (models() / "tiny.gguf").is_file()
    assert [r["outcome"] for r in pulls()] == ["ok"]
    # Pulled now: a second run with --pull downloads nothing (and does not re-hash or log).
    gets = len(gguf_hub.ranges())
    code, out, err = run(monkeypatch, capsys, "-p", "Say hi.", "--model", "tiny-moe", "--pull",
                         "--output-format", "json", "--max-turns", "1", "--threads", "2",
                         "--cwd", str(buggy_repo))  # fmt: skip
    assert code in (0, 1), err
    assert "pulling" not in err and len(gguf_hub.ranges()) == gets and len(pulls()) == 1


def test_run_without_pull_names_both_ways_and_downloads_nothing(gguf_hub, tmp_path, monkeypatch,
                                                                capsys) -> None:  # fmt: skip
    code, _, err = run(monkeypatch, capsys, "-p", "x", "--model", "tiny-moe", "--cwd",
                       str(tmp_path))  # fmt: skip
    assert code == 2 and "--pull" in err and "`glasscoder models pull tiny-moe`" in err
    assert len(err.strip().splitlines()) == 1
    assert gguf_hub.requests == [] and not models().exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model", "tiny-moe", "--pull", "--endpoint", "http://127.0.0.1:9/v1"],
         "an endpoint is set"),
        (["--model", "some/file.gguf", "--pull"], "not a .gguf file"),
        (["--model", "tiny-moe", "--trust-unpinned"], "only together with --pull"),
        (["--model", "tiny-mo", "--pull"], "Did you mean tiny-moe"),
        (["--model", "qwen3-coder-480b-a35b", "--pull"], "serve-cmd"),
    ],
)  # fmt: skip
def test_run_pull_usage_errors(gguf_hub, tmp_path, monkeypatch, capsys, flags: list[str],
                               message: str) -> None:  # fmt: skip
    code, _, err = run(monkeypatch, capsys, "-p", "x", "--cwd", str(tmp_path), *flags)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert gguf_hub.requests == []


def test_run_pull_of_an_unpinned_entry_needs_trust_unpinned(
    gguf_hub, tiny_bytes, tmp_path, monkeypatch, capsys
) -> None:
    from glasscoder.cli import run as run_module
    from glasscoder.config import Settings

    use(monkeypatch, dataclasses.replace(entry(None, revision=None), file_bytes=len(tiny_bytes)))
    gguf_hub.revision = "main"
    code, _, err = run(monkeypatch, capsys, "-p", "x", "--model", "tiny-moe", "--pull",
                       "--cwd", str(tmp_path))  # fmt: skip
    assert code == 2 and "--trust-unpinned" in err and gguf_hub.requests == []
    # The same path with the flag (here without running the model): pulled, hash recorded.
    notices: list[str] = []
    settings = Settings(model="tiny-moe")
    out = type("Out", (), {"notice": staticmethod(notices.append)})()
    run_module.choose_model_backend(settings, out, pull=True, trust_unpinned=True)
    assert settings.model == str(models() / "tiny.gguf") and settings.endpoint is None
    trusted = json.loads((models() / "trusted.json").read_text())
    assert trusted["test/tiny/tiny.gguf@main"]["sha256"] == hashlib.sha256(tiny_bytes).hexdigest()
    assert any("recorded on first use" in n for n in notices)


def test_memory_check_refuses_before_downloading(gguf_hub, tmp_path, monkeypatch,
                                                 capsys) -> None:  # fmt: skip
    fake_meminfo(tmp_path, monkeypatch, 512 * 1024)  # 0.5 GiB, no swap: under the 1 GiB overhead
    code, _, err = run(monkeypatch, capsys, "-p", "x", "--model", "tiny-moe", "--pull",
                       "--cwd", str(tmp_path))  # fmt: skip
    assert code == 2 and "tiny-moe will not fit in memory" in err
    assert "0.5 GiB available, 0.0 GiB swap free" in err and "--no-memory-check" in err
    assert gguf_hub.requests == []


def test_memory_check_on_a_model_file_and_its_overrides(tiny_bytes, tmp_path, xdg, monkeypatch,
                                                        capsys) -> None:  # fmt: skip
    from glasscoder.cli import run as run_module
    from glasscoder.config import Settings, load_settings

    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny_bytes)
    fake_meminfo(tmp_path, monkeypatch, 512 * 1024)
    code, _, err = run(monkeypatch, capsys, "-p", "x", "--model", str(path), "--cwd",
                       str(tmp_path))  # fmt: skip
    assert code == 2 and "tiny.gguf will not fit in memory" in err
    notices: list[str] = []
    out = type("Out", (), {"notice": staticmethod(notices.append)})()
    run_module.choose_model_backend(Settings(model=str(path), memory_check=False), out)  # the flag
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("memory_check = false\n")
    settings = load_settings(tmp_path, {"model": str(path)})
    assert settings.memory_check is False
    run_module.choose_model_backend(settings, out)
    assert settings.endpoint is None and notices == []
    # Tight (between 90% of available and available + swap): a warning, then it runs.
    needed = memory.file_needs(path, Settings().context_size)
    fake_meminfo(tmp_path, monkeypatch, int(needed * 1.05) // 1024)
    run_module.choose_model_backend(Settings(model=str(path)), out)
    assert len(notices) == 1 and "memory is tight for tiny.gguf" in notices[0]
