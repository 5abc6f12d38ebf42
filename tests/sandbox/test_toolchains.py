"""The person's toolchains run inside the bwrap sandbox, read-only, from real layouts in a fake
home (tests/sandbox/layouts.py), while the credentials kept beside them stay unreadable.
Before toolchains.py only the PATH folders were shown, so the pipx, `uv tool`, virtualenv and
rustup cases failed with "No such file or directory"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.bwrap import HIDDEN_AREAS, BwrapSandbox
from glasscoder.sandbox.paths import home_dirs
from glasscoder.sandbox.toolchains import resolve
from tests.sandbox import layouts
from tests.sandbox.conftest import Arena

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
READ_SECRETS = "; ".join(f"cat ~/{rel}" for rel in layouts.CREDENTIALS)
SECRETS = ("CARGO-TOKEN", "NPM-TOKEN", "RSA-PRIVATE-KEY", "PRIVATE-KEY", "AWS-SECRET")


@pytest.fixture
def home(arena: Arena) -> Path:
    layouts.plant_credentials(arena.home)
    return arena.home


def run(box: BwrapSandbox, arena: Arena, script: str, path: str, **env: str) -> Result:
    full = {"PATH": path, "HOME": str(arena.home), "LANG": "C.UTF-8", **env}
    return box.run(["bash", "-c", script], arena.ws, full, Limits(timeout=120))


def assert_no_secret(result: Result) -> None:
    leaked = [s for s in SECRETS if s in result.output]
    assert not leaked, result.output


def found(arena: Arena, env: dict[str, str]):
    homes = home_dirs(env)
    return resolve(env, homes, [*HIDDEN_AREAS, *homes], str(arena.ws))


def test_activated_venv_outside_the_workspace_runs_pytest(sandbox, arena, home) -> None:
    base = layouts.pyenv_python(home)
    venv = layouts.venv(home / ".virtualenvs" / "proj", base / "bin" / "python3")
    layouts.pytest_script(venv)
    (arena.ws / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    path = f"{venv}/bin:{SYSTEM_PATH}"
    got = run(sandbox, arena, f"pytest -q -p no:cacheprovider test_one.py; {READ_SECRETS}",
              path, VIRTUAL_ENV=str(venv))  # fmt: skip
    assert "1 passed" in got.output, got.output
    assert_no_secret(got)
    shown = found(arena, {"PATH": path, "HOME": str(home), "VIRTUAL_ENV": str(venv)})
    reasons = {m.path: m.reason for m in shown.mounts}
    assert str(venv) in reasons and "base interpreter" in reasons[str(base)]


def test_venv_on_path_but_not_activated_runs_pytest(sandbox, arena, home) -> None:
    base = layouts.pyenv_python(home)
    venv = layouts.venv(home / "envs" / "tools", base / "bin" / "python3")
    layouts.pytest_script(venv)
    (arena.ws / "test_two.py").write_text("def test_two():\n    assert True\n")
    got = run(sandbox, arena, "pytest -q -p no:cacheprovider test_two.py; python -c "
              "'import sys; print(sys.base_prefix)'", f"{venv}/bin:{SYSTEM_PATH}")  # fmt: skip
    assert "1 passed" in got.output and f"{base}\n" in got.output, got.output


def test_pipx_ruff_runs_through_its_link(sandbox, arena, home) -> None:
    local_bin = layouts.pipx_ruff(home)
    (arena.ws / "bad.py").write_text("import os\n")
    got = run(sandbox, arena, f"ruff check --no-cache bad.py; {READ_SECRETS}",
              f"{local_bin}:{SYSTEM_PATH}")  # fmt: skip
    assert "F401" in got.output, got.output
    assert_no_secret(got)
    shown = found(arena, {"PATH": f"{local_bin}:{SYSTEM_PATH}", "HOME": str(home)})
    venv = str(home / ".local/share/pipx/venvs/ruff")
    assert any(m.path == venv and "ruff links to" in m.reason for m in shown.mounts)
    assert str(home / ".local") not in [m.path for m in shown.mounts]


def test_uv_tool_runs_with_its_base_interpreter_in_the_home(sandbox, arena, home) -> None:
    base = layouts.pyenv_python(home)
    local_bin = layouts.uv_tool(home, base / "bin" / "python3", "hello")
    got = run(sandbox, arena, f"hello; {READ_SECRETS}", f"{local_bin}:{SYSTEM_PATH}")
    tool = home / ".local/share/uv/tools/hello"
    assert f"{tool} {base}" in got.output, got.output
    assert_no_secret(got)


def test_pyenv_shim_runs_the_managers_python(sandbox, arena, home) -> None:
    base = layouts.pyenv_python(home)
    shims = layouts.pyenv_shims(home, base)
    got = run(sandbox, arena, f"python3 -c 'import sys, json; print(sys.prefix)'; "
              f"{READ_SECRETS}", f"{shims}:{SYSTEM_PATH}")  # fmt: skip
    assert f"{base}\n" in got.output, got.output
    assert_no_secret(got)


def test_node_under_nvm_runs(sandbox, arena, home) -> None:
    node_bin = layouts.nvm_node(home)
    got = run(sandbox, arena, f"node -e 'console.log(6 * 7)'; {READ_SECRETS}",
              f"{node_bin}:{SYSTEM_PATH}")  # fmt: skip
    assert "42\n" in got.output, got.output
    assert_no_secret(got)


def test_node_through_fnms_per_shell_link_runs(sandbox, arena, home) -> None:
    entry = layouts.fnm_node(home)
    got = run(sandbox, arena, f"node -e 'console.log(6 * 7)'; {READ_SECRETS}",
              f"{entry}:{SYSTEM_PATH}")  # fmt: skip
    assert "42\n" in got.output, got.output
    assert_no_secret(got)
    shown = found(arena, {"PATH": f"{entry}:{SYSTEM_PATH}", "HOME": str(home)})
    assert [m.target for m in shown.mounts if m.path == str(entry.parent)] == [
        str(home / ".local/share/fnm/node-versions/v20.0.0/installation")
    ]


def test_installations_named_by_the_environment_are_shown(arena, home) -> None:
    places = {"GOROOT": "sdk/go1.22", "JAVA_HOME": "jdks/jdk-21", "GEM_HOME": ".gem/ruby/3.2.0",
              "CONDA_PREFIX": "miniforge3/envs/data", "GOPATH": "go"}  # fmt: skip
    for rel in places.values():
        (home / rel / "bin").mkdir(parents=True)
    env = {"PATH": SYSTEM_PATH, "HOME": str(home), "GEM_PATH": str(home / "gems"),
           **{name: str(home / rel) for name, rel in places.items()}}  # fmt: skip
    (home / "gems").mkdir()
    result = found(arena, env)
    shown = {m.path: m.reason for m in result.mounts}
    assert shown == {
        str(home / "sdk/go1.22"): f"GOROOT {home}/sdk/go1.22",
        str(home / "jdks/jdk-21"): f"JAVA_HOME {home}/jdks/jdk-21",
        str(home / ".gem/ruby/3.2.0"): f"GEM_HOME {home}/.gem/ruby/3.2.0",
        str(home / "miniforge3"): f"CONDA_PREFIX {home}/miniforge3/envs/data",  # its manager's
        str(home / "go/bin"): f"GOPATH {home}/go: its bin",
    }  # ~/gems is directly in the home: not shown
    refused = {m.path: m.reason for m in result.refused}
    assert "directly in a home" in refused[str(home / "gems")]


def test_cargo_builds_with_rustup_from_the_home(sandbox, arena, home) -> None:
    cargo_bin = layouts.rustup_cargo(home)
    project = arena.ws / "hello"
    (project / "src").mkdir(parents=True)
    (project / "Cargo.toml").write_text('[package]\nname = "hello"\nversion = "0.1.0"\n'
                                        'edition = "2021"\n')  # fmt: skip
    (project / "src" / "main.rs").write_text('fn main() { println!("built {}", 6 * 7); }\n')
    script = (f"cd hello && cargo run --offline -q; echo CARGO_HOME=$CARGO_HOME; "
              f"echo LISTED=$(ls -A ~/.cargo); {READ_SECRETS}")  # fmt: skip
    got = run(sandbox, arena, script, f"{cargo_bin}:{SYSTEM_PATH}")
    assert "built 42" in got.output, got.output
    assert_no_secret(got)
    assert "LISTED=bin\n" in got.output  # ~/.cargo shows only its bin
    assert (project / "target").is_dir()
    cargo_home = got.output.split("CARGO_HOME=")[1].split("\n")[0]
    assert cargo_home and not cargo_home.startswith(str(home))


def test_sandbox_run_command_runs_a_pipx_tool(arena, home, sandbox) -> None:
    local_bin = layouts.pipx_ruff(home)
    (arena.ws / "bad.py").write_text("import os\n")
    env = {
        "PATH": f"{local_bin}:{SYSTEM_PATH}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(arena.base / "config"),
        "XDG_DATA_HOME": str(arena.data),
    }
    argv = [sys.executable, "-m", "glasscoder", "sandbox", "run", "--", "bash", "-c",
            f"ruff check --no-cache bad.py; {READ_SECRETS}"]  # fmt: skip
    got = subprocess.run(argv, cwd=arena.ws, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert "F401" in got.stdout, got.stdout + got.stderr
    assert not [s for s in SECRETS if s in got.stdout]


def test_sandbox_check_lists_what_it_shows_and_why(arena, home, sandbox) -> None:
    local_bin = layouts.pipx_ruff(home)
    env = {"PATH": f"{local_bin}:{home}:{SYSTEM_PATH}", "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(arena.base / "config")}  # fmt: skip
    argv = [sys.executable, "-m", "glasscoder", "sandbox", "check"]
    got = subprocess.run(argv, cwd=arena.ws, env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    venv = home / ".local/share/pipx/venvs/ruff"
    assert f"  - {venv}: PATH entry {local_bin}: ruff links to {venv}/bin/ruff" in got.stdout
    assert f"  - {home}: it is or holds a hidden area" in got.stdout
    assert "GOCACHE" in got.stdout.split("writable:")[1]


def test_build_caches_are_private_writable_and_kept_for_the_session(sandbox, arena) -> None:
    box = BwrapSandbox(sandbox.bwrap)
    first = run(box, arena, "echo kept > $GOCACHE/x; echo $GOCACHE; touch $npm_config_cache/y",
                SYSTEM_PATH)  # fmt: skip
    assert first.exit_code == 0, first.output
    second = run(box, arena, "cat $GOCACHE/x; ls $npm_config_cache", SYSTEM_PATH)
    assert second.output == "kept\ny\n", second.output
    folder = first.output.strip()
    assert Path(folder, "x").read_text() == "kept\n"  # on the host: the session's own folder
    assert not folder.startswith(str(arena.home))
    del box  # the folder goes with the sandbox
    assert not Path(folder).exists()


def test_landlock_gives_the_same_private_caches(arena) -> None:
    from glasscoder.sandbox.choose import landlock_status, make_landlock

    if not landlock_status().ok:
        pytest.skip(f"landlock unavailable: {landlock_status().problem}")
    box, env = make_landlock(), {"PATH": SYSTEM_PATH, "HOME": str(arena.home)}
    first = box.run(["sh", "-c", "echo kept > $XDG_CACHE_HOME/x; echo $XDG_CACHE_HOME"], arena.ws,
                    env, Limits(timeout=30))  # fmt: skip
    second = box.run(["sh", "-c", "cat $XDG_CACHE_HOME/x"], arena.ws, env, Limits(timeout=30))
    assert first.exit_code == 0 and second.output == "kept\n", first.output + second.output
    assert not first.output.startswith(str(arena.home))


def test_a_tool_needing_an_unknown_folder_says_which(sandbox, arena, home) -> None:
    hidden_tool = home / "private-tools" / "greet"
    hidden_tool.parent.mkdir()
    hidden_tool.write_text("#!/bin/sh\necho hi\n")
    hidden_tool.chmod(0o755)
    wrapper = home / "bin" / "greet"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexec {hidden_tool}\n")
    wrapper.chmod(0o755)
    got = run(sandbox, arena, "greet", f"{wrapper.parent}:{SYSTEM_PATH}")
    assert got.exit_code != 0
    line = f"it needs {hidden_tool.parent} (not a toolchain folder"
    assert line in got.output, got.output


# --- what is never shown -----------------------------------------------------------------------


def test_links_and_pyvenv_cfg_written_in_the_workspace_expose_no_credentials(
    sandbox, arena, home
) -> None:
    """A command may write the workspace's .venv: its links and pyvenv.cfg must not make the
    next command's sandbox show ~/.ssh, ~/.cargo or a home."""
    venv = arena.ws / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {home / '.ssh'}\n")
    for name, target in (("a", home / ".ssh/id_rsa"), ("b", home / ".cargo/credentials.toml"),
                         ("c", home / ".npmrc"), ("d", home)):  # fmt: skip
        (venv / "bin" / name).symlink_to(target)
    # A folder shaped like an installation (bin/python3, lib/) but with no standard library.
    project = home / "work" / "project"
    (project / "bin").mkdir(parents=True)
    (project / "lib").mkdir()
    (project / "bin" / "python3").write_text("#!/bin/sh\n")
    (project / "bin" / "python3").chmod(0o755)
    (project / "notes.txt").write_text("PRIVATE-KEY\n")
    other = arena.ws / "env2"
    (other / "bin").mkdir(parents=True)
    (other / "pyvenv.cfg").write_text(f"home = {project / 'bin'}\n")
    path = f"{venv}/bin:{other}/bin:{home}:{home / '.cargo'}:{SYSTEM_PATH}"
    got = run(sandbox, arena, f"{READ_SECRETS}; cat {project}/notes.txt; ls -a ~ ~/.cargo",
              path, VIRTUAL_ENV=str(venv))  # fmt: skip
    assert_no_secret(got)
    shown = found(arena, {"PATH": path, "HOME": str(home), "VIRTUAL_ENV": str(venv)})
    assert shown.mounts == []
    refused = {m.path: m.reason for m in shown.refused}
    assert "hidden area" in refused[str(home)]
    assert "credential" in refused[str(home / ".cargo")]


def test_a_prefix_holding_a_deny_listed_file_is_not_shown(arena, home) -> None:
    tools = home / "opt" / "tool"
    (tools / "bin").mkdir(parents=True)
    (tools / "lib").mkdir()
    (tools / ".env").write_text("TOKEN=x\n")
    shown = found(arena, {"PATH": f"{tools}/bin:{SYSTEM_PATH}", "HOME": str(home)})
    assert [m.path for m in shown.mounts] == [str(tools / "bin")]
    assert "deny-list" in shown.refused[0].reason


def test_landlock_reads_the_same_toolchain_folders(arena, home) -> None:
    from glasscoder.sandbox.choose import landlock_status, make_landlock

    if not landlock_status().ok:
        pytest.skip(f"landlock unavailable: {landlock_status().problem}")
    local_bin = layouts.pipx_ruff(home)
    (arena.ws / "bad.py").write_text("import os\n")
    env = {"PATH": f"{local_bin}:{SYSTEM_PATH}", "HOME": str(home), "LANG": "C.UTF-8"}
    script = f"ruff check --no-cache bad.py; {READ_SECRETS.replace('~', str(home))}"
    got = make_landlock().run(["bash", "-c", script], arena.ws, env, Limits(timeout=60))
    assert "F401" in got.output, got.output
    assert_no_secret(got)


def test_an_ordinary_user_runs_a_pipx_tool(sandbox, arena, home) -> None:
    from tests.sandbox.conftest import NOBODY, skip_unless_nobody_can_run_glasscoder

    skip_unless_nobody_can_run_glasscoder()
    local_bin = layouts.pipx_ruff(home, link=False)  # copies: the tree is given away below
    (arena.ws / "bad.py").write_text("import os\n")
    for path in (arena.base, *arena.base.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    env = {
        "PATH": f"{local_bin}:{SYSTEM_PATH}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(arena.base / "config"),
        "XDG_DATA_HOME": str(arena.data),
    }
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            sys.executable, "-m", "glasscoder", "sandbox", "run", "--", "bash", "-c",
            f"ruff check --no-cache bad.py; {READ_SECRETS}"]  # fmt: skip
    got = subprocess.run(argv, cwd=arena.ws, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    if "bwrap" in got.stdout and "F401" not in got.stdout:
        pytest.skip(f"bwrap does not work for an ordinary user here: {got.stdout.strip()}")
    assert "F401" in got.stdout, got.stdout + got.stderr
    assert not [s for s in SECRETS if s in got.stdout]
