"""Deny-listed files are masked inside the bwrap sandbox: a command cannot read, transform, copy
or hard-link what the file tools hide. Each probe is also run unconfined on an identical tree,
to show it would reveal the secret there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from glasscoder.denied import Scanner
from glasscoder.ignore import SECRET_FILES, DenyList
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import BwrapSandbox, bwrap_args
from glasscoder.sandbox.choose import choose
from glasscoder.sandbox.none import NoSandbox
from tests.sandbox.conftest import Arena, sh

SECRET = "API_KEY=s3cr3t-value-42\n"
SHOWN = "s3cr3t-value-42"  # what cat, cp and ln would print
OD_SHOWN = "s   3   c   r   3   t"  # od -c spreads the characters apart
REV_SHOWN = SHOWN[::-1]

PROBES = [
    ("cat {p}", SHOWN),
    ("od -c {p}", OD_SHOWN),
    ("rev {p}", REV_SHOWN),
    ("cp {p} copy.txt; cat copy.txt", SHOWN),
    ("ln {p} link.txt; cat link.txt", SHOWN),
]
SECRET_PATHS = [".env", "services/api/.env"]


@pytest.fixture
def box(sandbox: BwrapSandbox, arena: Arena) -> BwrapSandbox:
    return BwrapSandbox(sandbox.bwrap, [arena.data], [arena.ws / "cfg"])


def plant(root: Path) -> None:
    for rel in SECRET_PATHS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(SECRET)
    (root / ".aws").mkdir(exist_ok=True)
    (root / ".aws" / "credentials").write_text(SECRET)
    (root / "app.py").write_text("print('visible')\n")


def unconfined(arena: Arena, script: str) -> str:
    """The probe's output outside any sandbox, on a fresh copy of the planted tree."""
    control = arena.base / "control"
    shutil.rmtree(control, ignore_errors=True)
    control.mkdir()
    plant(control)
    result = NoSandbox().run(["bash", "-c", script], control, arena.env(), Limits())
    return result.output


@pytest.mark.parametrize("path", SECRET_PATHS)
@pytest.mark.parametrize(("probe", "shown"), PROBES, ids=["cat", "od", "rev", "cp", "ln"])
def test_a_command_gets_nothing_of_a_deny_listed_file(box, arena, path, probe, shown) -> None:
    script = probe.format(p=path)
    assert shown in unconfined(arena, script)  # the probe works where nothing masks
    plant(arena.ws)
    result = sh(box, arena, script)
    assert shown not in result.output
    assert "s3cr3t" not in result.output
    copy = arena.ws / "copy.txt"
    assert not copy.exists() or "s3cr3t" not in copy.read_text()
    assert not (arena.ws / "link.txt").exists()
    assert (arena.ws / path).read_text() == SECRET  # the host's file is untouched


def test_a_deny_listed_directory_looks_empty_and_stays_unchanged(box, arena) -> None:
    assert SHOWN in unconfined(arena, "ls -A .aws; cat .aws/credentials")
    plant(arena.ws)
    result = sh(box, arena, "ls -A .aws; cat .aws/credentials; touch .aws/new; echo done")
    assert "credentials" not in result.output.replace("cat: .aws/credentials", "")
    assert "s3cr3t" not in result.output and "done" in result.output
    assert sorted(p.name for p in (arena.ws / ".aws").iterdir()) == ["credentials"]


def test_visible_files_stay_readable_and_writable(box, arena) -> None:
    plant(arena.ws)
    result = sh(box, arena, "cat app.py && echo more >> app.py")
    assert result.exit_code == 0 and "visible" in result.output
    assert (arena.ws / "app.py").read_text().endswith("more\n")


def test_a_hard_link_made_before_the_run_is_masked_too(box, arena) -> None:
    plant(arena.ws)
    os.link(arena.ws / ".env", arena.ws / "notes.txt")
    assert SHOWN in (arena.ws / "notes.txt").read_text()
    result = sh(box, arena, "cat notes.txt; od -c notes.txt")
    assert "s3cr3t" not in result.output and OD_SHOWN not in result.output


def test_case_variants_and_the_workspace_deny_setting_are_masked(sandbox, arena) -> None:
    for name in (".ENV", "Credentials.json", "keys/server.PEM", "prod.cfg"):
        (arena.ws / name).parent.mkdir(parents=True, exist_ok=True)
        (arena.ws / name).write_text(SECRET)
    chosen = choose("bwrap", deny=(*SECRET_FILES, "*.CFG"))
    assert isinstance(chosen.sandbox, BwrapSandbox)
    script = "cat .ENV Credentials.json keys/server.PEM prod.cfg; echo end"
    result = sh(chosen.sandbox, arena, script)
    assert "s3cr3t" not in result.output and "end" in result.output


def test_examples_stay_readable(box, arena) -> None:
    (arena.ws / ".env.example").write_text("API_KEY=\n")
    result = sh(box, arena, "cat .env.example")
    assert result.exit_code == 0 and "API_KEY=" in result.output


def test_a_symlink_with_a_deny_listed_name_is_left_alone(box, arena) -> None:
    # A mount over a symlink lands on its target, so the link itself is not masked; the
    # command still runs, and nothing outside the workspace is covered.
    (arena.ws / "settings.txt").write_text("plain\n")
    (arena.ws / ".env").symlink_to("settings.txt")
    result = sh(box, arena, "cat settings.txt")
    assert result.exit_code == 0 and "plain" in result.output


def test_masks_are_mounted_after_the_workspace(arena) -> None:
    plant(arena.ws)
    args = bwrap_args(arena.ws, arena.env(), 3, deny=Scanner(DenyList(SECRET_FILES)))
    binds = [i for i, a in enumerate(args) if a == "--bind" and args[i + 1] == str(arena.ws)]
    bind = binds[0] if binds else -1
    ws = str(arena.ws) + "/"  # as root, system files only root may read are masked too
    masks = [i for i, a in enumerate(args) if a == "/dev/null" and args[i + 1].startswith(ws)]
    dirs = [i for i, a in enumerate(args) if a == str(arena.ws / ".aws")]
    assert bind > 0 and len(masks) == 3  # .env, services/api/.env, and .envrc
    assert all(i > bind for i in masks + dirs)
    assert [args[i + 1] for i in masks if args[i + 1].endswith("/.env")] == [
        str(arena.ws / ".env"),
        str(arena.ws / "services/api/.env"),
    ]


def test_a_file_denied_for_its_folder_cannot_be_renamed_into_view(box, arena) -> None:
    (arena.ws / ".docker").mkdir()
    (arena.ws / ".docker" / "config.json").write_text(SECRET)
    (arena.ws / ".env").write_text(SECRET)
    script = "mv .docker dock; mv .docker/config.json .docker/c.json; mv .env env.txt; ls -A"
    assert "dock" in unconfined(arena, "mkdir .docker; " + script)  # works where nothing masks
    result = sh(box, arena, script)
    assert "s3cr3t" not in result.output
    assert (arena.ws / ".docker" / "config.json").read_text() == SECRET
    assert (arena.ws / ".env").read_text() == SECRET
    assert not (arena.ws / "dock").exists() and not (arena.ws / "env.txt").exists()
