"""bwrap's command line as built for a workspace: mount order, canonical paths, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import HARDENING, BindRefused, bwrap_args, checked_workspace


def mounts(args: list[str]) -> list[tuple[str, str]]:
    """(option, destination) of every mount, in the order bwrap applies them."""
    found = []
    for i, arg in enumerate(args):
        if arg == "--tmpfs":
            found.append((arg, args[i + 1]))
        elif arg in ("--bind", "--ro-bind"):
            found.append((arg, args[i + 2]))
    return found


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    ws = home / "src" / "proj"
    (ws / ".git").mkdir(parents=True)
    (ws / ".envrc").write_text("")
    return home.resolve(), ws.resolve()


def test_the_hardened_options_come_first_and_the_command_gets_only_its_env(layout) -> None:
    home, ws = layout
    args = bwrap_args(ws, {"HOME": str(home), "PATH": "/usr/bin", "TMPDIR": "/host/tmp"}, 7)
    assert args[: len(HARDENING)] == list(HARDENING)
    assert "--clearenv" in args and args[-4:] == ["--seccomp", "7", "--chdir", str(ws)]
    setenv = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--setenv"}
    assert setenv == {"HOME": str(home), "PATH": "/usr/bin", "TMPDIR": "/tmp"}


def test_parents_are_mounted_before_what_is_inside_them(layout) -> None:
    home, ws = layout
    order = mounts(bwrap_args(ws, {"HOME": str(home)}, 3))
    assert order.index(("--tmpfs", str(home))) < order.index(("--bind", str(ws)))
    assert order.index(("--bind", str(ws))) < order.index(("--ro-bind", str(ws / ".git")))
    assert ("--ro-bind", str(ws / ".envrc")) in order
    assert order[0] == ("--ro-bind", "/") and ("--tmpfs", "/tmp") in order


def test_data_dir_hidden_and_config_read_only_only_where_needed(arena) -> None:
    # The arena is outside /tmp: a data dir under /tmp would be hidden by /tmp's tmpfs anyway.
    config, inside_home = arena.ws / "cfg", arena.home / "share"
    config.mkdir()
    inside_home.mkdir()
    env = {"HOME": str(arena.home)}
    order = mounts(bwrap_args(arena.ws, env, 3, [arena.data, inside_home], [config]))
    assert ("--tmpfs", str(arena.data)) in order
    assert ("--tmpfs", str(inside_home)) not in order  # already under the home's tmpfs
    assert order.index(("--bind", str(arena.ws))) < order.index(("--ro-bind", str(config)))


def test_toolchains_on_path_inside_home_are_shown_read_only(layout) -> None:
    home, ws = layout
    for folder in (".cargo/bin", ".pyenv/shims", ".local/bin"):
        (home / folder).mkdir(parents=True)
    (ws / ".venv" / "bin").mkdir(parents=True)
    entries = [home / ".cargo/bin", home / ".pyenv/shims", home / ".local/bin", ws / ".venv/bin"]
    path = ":".join([*map(str, entries), str(home), "rel/bin"])
    args = bwrap_args(ws, {"HOME": str(home), "PATH": path}, 3)
    shown = [p for o, p in mounts(args) if o == "--ro-bind" and p.startswith(str(home))]
    shown = [p for p in shown if not p.startswith(str(ws))]
    # ~/.pyenv whole (its shims need it); ~/.cargo only its bin (it may hold a token).
    assert sorted(shown) == sorted(
        [str(home / ".cargo/bin"), str(home / ".pyenv"), str(home / ".local/bin")]
    )


def test_workspace_given_through_a_symlink_is_refused(layout, tmp_path) -> None:
    home, ws = layout
    link = tmp_path / "link"
    link.symlink_to(ws)
    with pytest.raises(BindRefused, match="symlink"):
        checked_workspace(link, [str(home)])
    assert checked_workspace(ws, [str(home)]) == str(ws)


@pytest.mark.parametrize("which", ["home", "root"])
def test_home_or_root_as_workspace_is_refused(layout, which) -> None:
    home, _ = layout
    target = home if which == "home" else Path("/")
    with pytest.raises(BindRefused, match="home directory"):
        bwrap_args(target, {"HOME": str(home)}, 3)


def test_a_missing_workspace_is_refused(tmp_path) -> None:
    with pytest.raises(BindRefused, match="not a directory"):
        checked_workspace(tmp_path / "gone", [])


def test_a_workspace_under_tmp_is_visible_and_writable(sandbox, tmp_path) -> None:
    ws = tmp_path.resolve()  # pytest's tmp_path lies under /tmp, which gets its own tmpfs
    result = sandbox.run(["sh", "-c", "echo hi > f; ls /tmp | wc -l"], ws,
                         {"PATH": "/usr/bin:/bin"}, Limits())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (ws / "f").read_text() == "hi\n"


def test_path_folders_under_tmp_are_shown_read_only_but_tmp_is_not(layout, tmp_path) -> None:
    # A virtualenv under /tmp (a CI clone, a scratch checkout) keeps its tools inside.
    home, ws = layout
    venv_bin = Path("/tmp") / f"gc-venv-{tmp_path.name}" / "bin"
    venv_bin.mkdir(parents=True, exist_ok=True)
    try:
        path = ":".join([str(venv_bin), "/tmp", "/usr/bin"])
        order = mounts(bwrap_args(ws, {"HOME": str(home), "PATH": path}, 3))
        assert ("--ro-bind", str(venv_bin.resolve())) in order
        assert ("--ro-bind", "/tmp") not in order and ("--tmpfs", "/tmp") in order
        assert order.index(("--tmpfs", "/tmp")) < order.index(("--ro-bind", str(venv_bin)))
    finally:
        venv_bin.rmdir()
        venv_bin.parent.rmdir()
