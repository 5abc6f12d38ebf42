"""Real toolchain layouts in a fake home, as the installers leave them: a pyenv-style Python
with its shims, virtualenvs (made by `python -m venv`), pipx and `uv tool` installs, node under
~/.nvm, cargo's proxies and a rustup toolchain. Files are hard links of this machine's own
tools where the filesystem allows (fast), else copies. Each home also gets the credentials its
tools keep beside them, so tests can show those stay unreadable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SYSTEM_BIN = "/usr/local/bin:/usr/bin:/bin"
VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"  # the packages' Python
CREDENTIALS = {  # home-relative path: content
    ".cargo/credentials.toml": '[registry]\ntoken = "CARGO-TOKEN"\n',
    ".npmrc": "//registry.npmjs.org/:_authToken=NPM-TOKEN\n",
    ".ssh/id_rsa": "RSA-PRIVATE-KEY\n",
}


def place(src: str | Path, dest: Path, *, link: bool = True) -> None:
    """dest as a hard link of src (a copy across filesystems, or when link is False)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not link:
            raise OSError
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def plant_credentials(home: Path) -> None:
    for rel, text in CREDENTIALS.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)


def system_python() -> str:
    """A system interpreter (outside every home) of the test run's version, whose packages
    (pytest) the layouts borrow."""
    found = shutil.which(f"python{VERSION}", path=SYSTEM_BIN)
    if found is None:
        pytest.skip(f"needs a system python{VERSION}, the test run's version")
    return os.path.realpath(found)


def pyenv_python(home: Path, *, link: bool = True) -> Path:
    """~/.pyenv/versions/X.Y: a system interpreter's binary with its standard library beside
    it, so its prefix (sys.prefix) is inside the home. Returns the prefix."""
    python = system_python()
    stdlib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    prefix = home / ".pyenv" / "versions" / VERSION
    place(python, prefix / "bin" / f"python{VERSION}", link=link)
    (prefix / "bin" / "python3").symlink_to(f"python{VERSION}")
    (prefix / "lib").mkdir()
    (prefix / "lib" / f"python{VERSION}").symlink_to(stdlib)
    return prefix


def pyenv_shims(home: Path, prefix: Path) -> Path:
    """~/.pyenv/shims/python3: a script that execs the version's interpreter, as pyenv's do."""
    shims = home / ".pyenv" / "shims"
    shims.mkdir(parents=True)
    shim = shims / "python3"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{prefix}/bin/python3" "$@"\n')
    shim.chmod(0o755)
    (home / ".pyenv" / "libexec").mkdir()
    return shims


# pytest and what it imports, copied from the test run's own environment into a layout's venv
PYTEST_PACKAGES = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py")


def venv(path: Path, base: str | Path) -> Path:
    """`base -m venv` at path, holding its own copy of this test run's pytest (as a venv made
    with pip would), so what runs depends only on the venv, its base and the mounts. A .pth
    into the test run's environment would not do: that environment may itself lie in a hidden
    area (a checkout under /tmp)."""
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(path)], check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    site = path / "lib" / f"python{VERSION}" / "site-packages"
    outer = Path(sysconfig.get_paths()["purelib"])
    for name in PYTEST_PACKAGES:
        source = outer / name
        if source.is_dir():
            shutil.copytree(source, site / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, site / name)
    return path


def console_script(venv_path: Path, name: str, body: str) -> Path:
    """A console script as pip writes one: the venv's own python in its shebang."""
    script = venv_path / "bin" / name
    script.write_text(f"#!{venv_path}/bin/python\n{body}")
    script.chmod(0o755)
    return script


def pytest_script(venv_path: Path) -> Path:
    return console_script(venv_path, "pytest", "import sys\nfrom pytest import console_main\n"
                          "sys.exit(console_main())\n")  # fmt: skip


def ruff_binary() -> str:
    found = shutil.which("ruff", path=sysconfig.get_path("scripts")) or shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed")
    return found


def pipx_ruff(home: Path, *, link: bool = True) -> Path:
    """~/.local/bin/ruff -> ~/.local/share/pipx/venvs/ruff/bin/ruff, in a real venv."""
    root = venv(home / ".local/share/pipx/venvs/ruff", system_python())
    place(ruff_binary(), root / "bin" / "ruff", link=link)
    return _link_into_local_bin(home, root / "bin" / "ruff")


def uv_tool(home: Path, base: Path, name: str) -> Path:
    """~/.local/bin/NAME -> ~/.local/share/uv/tools/NAME/bin/NAME, a console script of a venv
    made from base (itself in the home) that prints its prefixes."""
    root = venv(home / ".local/share/uv/tools" / name, base)
    console_script(root, name, "import sys\nprint(sys.prefix, sys.base_prefix)\n")
    return _link_into_local_bin(home, root / "bin" / name)


def _link_into_local_bin(home: Path, target: Path) -> Path:
    link = home / ".local" / "bin" / target.name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link.parent


def nvm_node(home: Path) -> Path:
    """~/.nvm/versions/node/vX/bin/node: the system's node, linked."""
    node = shutil.which("node", path="/usr/local/bin:/usr/bin:/bin")
    if node is None:
        pytest.skip("node is not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    bin_dir = home / ".nvm" / "versions" / "node" / version / "bin"
    place(node, bin_dir / "node")
    (bin_dir.parent / "lib").mkdir()
    return bin_dir


def fnm_node(home: Path) -> Path:
    """fnm's layout: the version under ~/.local/share/fnm, and PATH through a per-shell
    symlink in ~/.local/state/fnm_multishells. Returns that PATH entry."""
    node = shutil.which("node", path="/usr/local/bin:/usr/bin:/bin")
    if node is None:
        pytest.skip("node is not installed")
    installation = home / ".local/share/fnm/node-versions/v20.0.0/installation"
    place(node, installation / "bin" / "node")
    (installation / "lib").mkdir()
    shell = home / ".local/state/fnm_multishells/4242_1700000000000"
    shell.parent.mkdir(parents=True)
    shell.symlink_to(installation)
    return shell / "bin"


def rustup_cargo(home: Path) -> Path:
    """~/.cargo/bin (rustup and its cargo/rustc proxies) and ~/.rustup/toolchains/stable-*,
    taken from this machine's rustup. Returns ~/.cargo/bin."""
    rustup = shutil.which("rustup") or str(Path.home() / ".cargo/bin/rustup")
    rustup_home = Path(os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")))
    toolchains = sorted(rustup_home.glob("toolchains/stable-*"))
    if not os.access(rustup, os.X_OK) or not toolchains:
        pytest.skip("rustup with a stable toolchain is not installed")
    bin_dir = home / ".cargo" / "bin"
    place(rustup, bin_dir / "rustup")
    for proxy in ("cargo", "rustc"):
        (bin_dir / proxy).symlink_to("rustup")
    stable = toolchains[0]
    dest = home / ".rustup" / "toolchains" / stable.name
    for part in ("bin", "lib", "libexec", "etc"):  # not share/: documentation, 50,000 files
        if (stable / part).exists():
            shutil.copytree(stable / part, dest / part, symlinks=True, copy_function=_link)
    for folder in ("downloads", "tmp", "update-hashes"):  # rustup makes them when it installs
        (home / ".rustup" / folder).mkdir()
    (home / ".rustup" / "settings.toml").write_text(
        f'version = "12"\ndefault_toolchain = "{stable.name}"\nprofile = "minimal"\n'
    )
    return bin_dir


def _link(src: str, dest: str) -> None:
    place(src, Path(dest))
