"""First run with no model: local servers found, pulled models offered, the choice saved."""

import dataclasses
import hashlib
import os
import random
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from glasscoder.cli.firstrun import choose_model, needs_model, no_model_hint, save_user_config
from glasscoder.cli.main import cli
from glasscoder.config import Settings, load_settings, user_config_path
from glasscoder.errors import UsageError, UserFacingError
from glasscoder.guard.egress import EgressRefused, probe_models
from glasscoder.models import discover, pull, registry
from tests.fakes.fake_hub import FakeHub
from tests.fakes.openai_server import FakeOpenAIServer, unused_port
from tests.interactive.terminal import Terminal, needs_tmux

DATA = b"GGUF" + random.Random(11).randbytes(50_000)
SHA = hashlib.sha256(DATA).hexdigest()
REVISION = "3aa24f1361edaa90f54f6b791be47aa521ea6370"
EXISTING = '# my settings\napproval = "plan"\n\n[extra]\nnote = "kept"\n'


def answers(*typed: str) -> Callable[[str], str]:
    """What the person types, one answer per prompt; then end of input."""
    queue = list(typed)

    def ask(_prompt: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return ask


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(model="local-coder") as srv:
        yield srv


def test_the_probe_finds_a_local_server(server: FakeOpenAIServer) -> None:
    found = discover.find_servers((("a dead one", unused_port()), ("fake", server.port)))
    assert found == [discover.LocalServer("fake", server.base_url, ("local-coder",))]
    assert [r.path for r in server.requests] == ["/v1/models"]
    assert server.requests[0].body == b""  # nothing of the person's is sent


def test_a_dead_port_gives_nothing_and_no_error() -> None:
    assert discover.find_servers((("nothing", unused_port()),)) == []
    assert probe_models(f"http://127.0.0.1:{unused_port()}", 0.3) == []


def test_only_loopback_is_probed() -> None:
    with pytest.raises(EgressRefused):
        probe_models("http://192.0.2.1:8000", 0.3)


def test_choosing_a_server_saves_it_keeping_the_file(xdg: Path, server) -> None:
    config = user_config_path()
    config.parent.mkdir(parents=True)
    config.write_text(EXISTING)
    said: list[str] = []
    settings = Settings()
    assert needs_model(settings)

    chosen = choose_model(settings, ask=answers("1"), say=said.append,
                          ports=(("fake", server.port),))  # fmt: skip

    assert chosen
    assert (settings.endpoint, settings.model) == (server.base_url, "local-coder")
    assert any("1. local-coder" in line and server.base_url in line for line in said)
    text = config.read_text()
    assert text.startswith("# my settings\n")
    saved = tomllib.loads(text)
    assert saved["endpoint"] == server.base_url and saved["model"] == "local-coder"
    assert saved["approval"] == "plan" and saved["extra"] == {"note": "kept"}


@pytest.mark.parametrize("typed", [(), ("",), ("q",)])
def test_declining_writes_nothing(xdg: Path, server, typed: tuple[str, ...]) -> None:
    settings = Settings()
    assert not choose_model(settings, ask=answers(*typed), say=lambda _t: None,
                            ports=(("fake", server.port),))  # fmt: skip
    assert not user_config_path().exists()
    assert settings.endpoint is None and settings.model == Settings().model


def test_a_wrong_answer_asks_again_and_the_next_start_knows(xdg: Path, server,
                                                            tmp_path: Path) -> None:  # fmt: skip
    said: list[str] = []
    settings = Settings()
    assert choose_model(settings, ask=answers("7", "two", "1"), say=said.append,
                        ports=(("fake", server.port),))  # fmt: skip
    assert sum("Type a number" in line for line in said) == 2
    assert settings.model == "local-coder"
    again = load_settings(tmp_path, {})  # the next start reads the choice: no question
    assert (again.endpoint, again.model) == (server.base_url, "local-coder")
    assert not needs_model(again)


def test_a_new_key_lands_at_top_level_before_tables(xdg: Path) -> None:
    config = user_config_path()
    config.parent.mkdir(parents=True)
    config.write_text('[extra]\nnote = "kept"\n')
    save_user_config({"model": "m"})
    saved = tomllib.loads(config.read_text())
    assert saved == {"model": "m", "extra": {"note": "kept"}}


def test_a_broken_config_is_left_alone_with_one_line(xdg: Path) -> None:
    config = user_config_path()
    config.parent.mkdir(parents=True)
    config.write_text("model = \n")
    with pytest.raises(UserFacingError) as caught:
        save_user_config({"model": "m"})
    assert str(config) in str(caught.value) and "\n" not in str(caught.value)
    assert config.read_text() == "model = \n"


def tiny_default(monkeypatch: pytest.MonkeyPatch) -> registry.ModelSpec:
    base = registry.find("qwen2.5-coder-7b")
    assert base is not None
    spec = dataclasses.replace(base, name="tiny-moe", hub_repo="test/tiny", hub_file="tiny.gguf",
                               revision=REVISION, sha256=SHA, file_bytes=len(DATA))  # fmt: skip
    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS, spec))
    monkeypatch.setattr(registry, "DEFAULT_MODEL", spec.name)
    return spec


def test_pulling_the_default_then_offering_it_as_pulled(xdg: Path, monkeypatch) -> None:
    spec = tiny_default(monkeypatch)
    said: list[str] = []
    settings = Settings()
    with FakeHub("test/tiny", "tiny.gguf", DATA, revision=REVISION) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert choose_model(settings, ask=answers("1"), say=said.append, ports=())
    assert any(f"1. pull tiny-moe ({registry.size_text(len(DATA))})" in line for line in said)
    assert any(line.startswith("glasscoder: tiny-moe: ok, sha256 " + SHA) for line in said)
    assert (settings.endpoint, settings.model) == (None, "tiny-moe")
    path = pull.pulled_path(spec)
    assert path is not None and path.read_bytes() == DATA
    assert tomllib.loads(user_config_path().read_text()) == {"model": "tiny-moe"}

    said.clear()  # a second first run: the pulled file is offered, no second download
    assert not choose_model(Settings(), ask=answers(""), say=said.append, ports=())
    menu = [line for line in said if line.startswith("  ")]
    assert menu == [f"  1. tiny-moe  (pulled; runs in-process: {path})"]


def test_no_server_found_is_said_with_the_ports_tried(xdg, monkeypatch) -> None:
    tiny_default(monkeypatch)
    said: list[str] = []
    dead = (("vLLM", unused_port()),)
    assert not choose_model(Settings(), ask=answers(""), say=said.append, ports=dead)
    assert f"  No model server answers on 127.0.0.1 (vLLM :{dead[0][1]})." in said


def test_no_model_hint_is_the_runs_own_error() -> None:
    from glasscoder.cli.run import choose_backend

    class Out:
        def notice(self, _message: str) -> None:
            pass

    with pytest.raises(UsageError) as caught:
        choose_backend(Settings(), Out())
    assert str(caught.value) == no_model_hint()
    assert "glasscoder models list" in no_model_hint()


def test_needs_model_only_when_nothing_names_one() -> None:
    assert needs_model(Settings())
    assert not needs_model(Settings(endpoint="http://127.0.0.1:8000/v1"))
    assert not needs_model(Settings(model="some/file.gguf"))  # run says if it is missing
    assert not needs_model(Settings(model=registry.DEFAULT_MODEL))  # run says "pull it first"


def test_serve_cmd_prints_a_line_the_real_cli_accepts() -> None:
    glasscoder = str(Path(sys.executable).parent / "glasscoder")
    out = subprocess.run([glasscoder, "models", "serve-cmd", "qwen3-coder-30b-a3b"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("glasscoder "))
    args = shlex.split(line)[1:]
    assert "-p" not in args and "--prompt" not in args  # so it opens an interactive session
    ctx = cli.make_context("glasscoder", args)  # every option parsed and converted, none run
    assert ctx.params["endpoint"].startswith("http://127.0.0.1:")
    assert ctx.params["model"] == "Qwen/Qwen3-Coder-30B-A3B-Instruct"


FIRST_RUN = """
import sys
from glasscoder.cli.firstrun import choose_model
from glasscoder.config import Settings

settings = Settings()
chosen = choose_model(settings, ports=(("fake", int(sys.argv[1])),))
print("CHOSEN", chosen, settings.endpoint, settings.model)
"""


@needs_tmux
def test_the_menu_on_a_real_terminal(xdg: Path, server, tmp_path: Path) -> None:
    env = {key: os.environ[key] for key in ("PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    terminal = Terminal([sys.executable, "-c", FIRST_RUN, str(server.port)], tmp_path,
                        {**env, "TERM": "xterm-256color"})  # fmt: skip
    try:
        terminal.wait_for("Choose 1-")
        assert "1. local-coder  (served by fake at " in terminal.screen()
        terminal.type("1")
        terminal.keys("Enter")
        terminal.wait_for(f"CHOSEN True {server.base_url} local-coder")
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    saved = tomllib.loads(user_config_path().read_text())
    assert saved == {"endpoint": server.base_url, "model": "local-coder"}
