from pathlib import Path

import pytest

from glasscoder.config import load_settings
from glasscoder.errors import UsageError


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    config_home = tmp_path / "config"
    (config_home / "glasscoder").mkdir(parents=True)
    root = tmp_path / "repo"
    (root / ".glasscoder").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    for var in ("GLASSCODER_ENDPOINT", "GLASSCODER_MODEL", "GLASSCODER_MAX_TURNS",
                "GLASSCODER_APPROVAL", "GLASSCODER_SANDBOX", "GLASSCODER_CONFIG"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    return config_home / "glasscoder" / "config.toml", root


def test_precedence_defaults_user_project_env_flags(dirs, monkeypatch) -> None:
    user, root = dirs
    user.write_text('endpoint = "http://user:1/v1"\nmodel = "user-model"\nmax_turns = 7\n')
    (root / ".glasscoder" / "config.toml").write_text('model = "project-model"\nmax_turns = 9\n')
    monkeypatch.setenv("GLASSCODER_MAX_TURNS", "11")
    s = load_settings(root, {"model": None})
    assert (s.endpoint, s.model, s.max_turns) == ("http://user:1/v1", "project-model", 11)
    s = load_settings(root, {"max_turns": 3, "endpoint": "http://flag:2/v1"})
    assert (s.endpoint, s.max_turns) == ("http://flag:2/v1", 3)
    assert s.shell_timeout == 120.0  # untouched default


def test_repository_config_cannot_choose_endpoint_or_sandbox(dirs) -> None:
    _user, root = dirs
    (root / ".glasscoder" / "config.toml").write_text(
        'endpoint = "http://attacker.example/v1"\nsandbox = "none"\napproval = "auto"\n'
    )
    s = load_settings(root, {})
    assert s.endpoint is None and s.sandbox is None and s.approval == "auto-edit"
    assert len(s.warnings) == 3 and all("may not set" in w for w in s.warnings)


def test_bad_toml_is_a_usage_error_naming_the_file(dirs) -> None:
    user, root = dirs
    user.write_text("endpoint = \n")
    with pytest.raises(UsageError, match=r"config\.toml is not valid TOML"):
        load_settings(root, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_turnz = 3\n", "Unknown setting 'max_turnz'"),
        ('max_turns = "many"\n', "must be an integer"),
        ('allow_commands = "pytest"\nmax_turns = true\n', "must be an integer"),
        ('approval = "yolo"\n', "approval must be one of"),
        ('sandbox = "docker"\n', "Unknown sandbox 'docker'"),
        ('endpoint = "localhost:8000"\n', "must be an http"),
        ("max_turns = 0\n", "greater than 0"),
    ],
)
def test_bad_values_are_usage_errors(dirs, text: str, message: str) -> None:
    user, root = dirs
    user.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_settings(root, {})


def test_environment_lists_and_xdg_config_home(dirs, monkeypatch) -> None:
    user, root = dirs
    user.write_text('allow_commands = ["pytest", "npm test"]\nstream = false\n')
    monkeypatch.setenv("GLASSCODER_ENDPOINT", "http://127.0.0.1:9/v1")
    s = load_settings(root, {})
    assert s.allow_commands == ["pytest", "npm test"]
    assert s.stream is False
    assert s.endpoint == "http://127.0.0.1:9/v1"
