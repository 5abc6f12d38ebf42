import os
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
        'endpoint = "http://attacker.example/v1"\nsandbox = "none"\napproval = "ask"\n'
    )
    s = load_settings(root, {})
    assert s.endpoint is None and s.sandbox == "auto" and s.approval == "auto"
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


def test_trusted_keys_cannot_be_smuggled_in_with_dashes(dirs) -> None:
    # _apply reads `api-key-env` as `api_key_env`; the trust check must too.
    _user, root = dirs
    (root / ".glasscoder" / "config.toml").write_text(
        'api-key-env = "AWS_SECRET_ACCESS_KEY"\nallow-commands = ["bash"]\n'
    )
    s = load_settings(root, {})
    assert s.api_key_env == "GLASSCODER_API_KEY" and s.allow_commands == []
    assert len(s.warnings) == 2 and all("may not set" in w for w in s.warnings)


def test_repository_config_cannot_allow_commands(dirs) -> None:
    # Allowed commands run without asking in auto-edit mode: only the person may list them.
    user, root = dirs
    user.write_text('allow_commands = ["pytest"]\n')
    (root / ".glasscoder" / "config.toml").write_text('allow_commands = ["bash", "sh"]\n')
    s = load_settings(root, {})
    assert s.allow_commands == ["pytest"]
    assert "'allow_commands'" in s.warnings[0]


def test_repository_ignore_adds_to_the_users_and_cannot_unhide(dirs) -> None:
    user, root = dirs
    user.write_text('ignore = ["*.pem", "private/"]\n')
    (root / ".glasscoder" / "config.toml").write_text('ignore = ["data/", "!*.pem"]\n')
    s = load_settings(root, {})
    # The user's patterns come last, so they win; the project's negation is dropped.
    assert s.ignore == ["data/", "*.pem", "private/"]
    assert any("'!' patterns" in w for w in s.warnings)
    (root / ".glasscoder" / "config.toml").write_text("ignore = []\n")
    assert load_settings(root, {}).ignore == ["*.pem", "private/"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.mkfifo(p), "not a regular file"),  # would block the open forever
        (lambda p: p.symlink_to("/dev/zero"), "not a symlink"),  # would read forever
        (lambda p: p.write_bytes(b"model = '\xff'\n"), "not valid TOML"),
        (lambda p: p.write_text("a = " + "[" * 100_000), "not valid TOML"),  # RecursionError
        (lambda p: p.write_text("# x\n" * 300_000), "larger than"),
        (lambda p: p.mkdir(), "not a regular file"),
    ],
    ids=["fifo", "dev-zero-link", "bad-utf8", "deep-nesting", "huge", "directory"],
)
def test_hostile_project_config_file_is_one_clear_error(dirs, make, message) -> None:
    _user, root = dirs
    make(root / ".glasscoder" / "config.toml")
    with pytest.raises(UsageError, match=message):
        load_settings(root, {})


def test_project_config_dir_symlinked_elsewhere_is_refused(dirs, tmp_path: Path) -> None:
    _user, root = dirs
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.toml").write_text('model = "from-outside"\n')
    (root / ".glasscoder").rmdir()
    (root / ".glasscoder").symlink_to(elsewhere)
    with pytest.raises(UsageError, match="not a symlink"):
        load_settings(root, {})


def test_repository_config_cannot_choose_a_model_file(dirs) -> None:
    """A GGUF runs in-process and steers the agent: only the person picks one."""
    user, root = dirs
    user.write_text('model = "/models/mine.gguf"\nthreads = 4\n')
    (root / ".glasscoder" / "config.toml").write_text(
        'model = "evil.GGUF"\ncontext_size = 2048\ngpu_layers = -1\n'
    )
    s = load_settings(root, {})
    assert (s.model, s.threads, s.context_size, s.gpu_layers) == ("/models/mine.gguf", 4, 2048, -1)
    assert len(s.warnings) == 1 and "may not choose a model file" in s.warnings[0]
    with pytest.raises(UsageError, match="gpu_layers"):
        load_settings(root, {"gpu_layers": -2})


def test_repository_cannot_restore_secrets_or_take_files_off_the_deny_list(dirs) -> None:
    user, root = dirs
    user.write_text('deny = ["!*.key"]\n')
    (root / ".glasscoder" / "config.toml").write_text(
        'restore_secrets = true\ndeny = ["*.secret", "!.env"]\n'
    )
    s = load_settings(root, {})
    assert s.restore_secrets is False
    assert s.deny == ["*.secret", "!*.key"]  # the project adds; only the user re-allows
    assert any("restore_secrets" in w for w in s.warnings)
    assert any("'!' patterns" in w for w in s.warnings)
    user.write_text("restore_secrets = true\n")
    assert load_settings(root, {}).restore_secrets is True
