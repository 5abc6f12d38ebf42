"""The person's toolchains inside the sandbox: the installation folders a command needs, and why.

The sandbox hides the homes, /tmp and /run (its hidden areas), and that is where tools are often
installed: pipx and `uv tool` virtualenvs, pyenv, nvm, rustup. Resolution starts from what the
command can reach (its PATH, VIRTUAL_ENV, CONDA_PREFIX, GOROOT, GOPATH, JAVA_HOME, GEM_HOME and
GEM_PATH) and follows each executable on PATH to where it runs from: a symlink's target, a
script's interpreter, a virtualenv's base interpreter (pyvenv.cfg `home`), a version manager's
folder for its shims, rustup's toolchains for the proxies in ~/.cargo/bin. Only folders inside a
hidden area are returned (the rest of the system is visible anyway); the backends mount them
read-only.

Never returned: a hidden area or a folder holding one (a whole home); a folder directly in a home
unless it is a version manager's or a virtualenv (so ~/.cargo/bin, never ~/.cargo); a folder
holding one of the credential places in CREDENTIALS, or with a deny-listed entry at its top.
What the sandbox could have written (the workspace's own virtualenv, its links) is followed
only to a verified installation: a `bin/` beside a `lib/`, a virtualenv, a manager's folder.

This runs before every command, so a folder's scan is kept until its mtime changes.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from glasscoder.ignore import SECRET_FILES, DenyList
from glasscoder.sandbox.paths import canonical, inside, reached_through, under_any

# (name, the variable naming its folder, where it is in a home by default)
MANAGERS = (
    ("pyenv", "PYENV_ROOT", (".pyenv",)), ("rbenv", "RBENV_ROOT", (".rbenv",)),
    ("nodenv", "NODENV_ROOT", (".nodenv",)), ("goenv", "GOENV_ROOT", (".goenv",)),
    ("asdf", "ASDF_DATA_DIR", (".asdf",)), ("mise", "MISE_DATA_DIR", (".local/share/mise",)),
    ("nvm", "NVM_DIR", (".nvm",)), ("fnm", "FNM_DIR", (".local/share/fnm", ".fnm")),
    ("volta", "VOLTA_HOME", (".volta",)), ("rustup", "RUSTUP_HOME", (".rustup",)),
    ("sdkman", "SDKMAN_DIR", (".sdkman",)),
    ("conda", "", ("miniconda3", "anaconda3", "miniforge3", "mambaforge",
                                    "micromamba")),
)  # fmt: skip
# Places in a home that hold credentials: no mount may contain one.
CREDENTIALS = (
    ".ssh", ".aws", ".gnupg", ".docker", ".kube", ".azure", ".password-store", ".netrc",
    ".npmrc", ".pypirc", ".pgpass", ".git-credentials", ".vault-token", ".gem/credentials",
    ".cargo/credentials", ".cargo/credentials.toml", ".terraform.d", ".m2/settings.xml",
    ".gradle/gradle.properties", ".config/gh", ".config/hub", ".config/gcloud",
    ".config/glasscoder", ".config/git", ".local/share/keyrings", ".local/share/glasscoder",
    ".local/share/python_keyring",
)  # fmt: skip
# A folder with one of these beside its bin/ is an installation prefix (lib: most; release: a
# JDK; VERSION: a Go root).
PREFIX_MARKERS = ("lib", "lib64", "release", "VERSION")
VENV_DEPTH = 4  # how far above an executable a pyvenv.cfg is looked for
SHEBANG_BYTES = 256


@dataclass(frozen=True)
class Mount:
    path: str  # canonical; a folder to show read-only, or (with `target`) a symlink to make
    reason: str
    target: str = ""  # set for a symlink on a PATH entry that lies in a hidden area


@dataclass
class Toolchains:
    mounts: list[Mount] = field(default_factory=list)
    refused: list[Mount] = field(default_factory=list)  # reason: why it is not shown
    variables: dict[str, str] = field(default_factory=dict)  # manager folders to tell

    def folders(self) -> list[str]:
        return [m.path for m in self.mounts if not m.target]


def resolve(
    env: Mapping[str, str], homes: Sequence[str], areas: Sequence[str], workspace: str
) -> Toolchains:
    """The toolchain folders a command with env needs; homes and areas as the sandbox hides."""
    found = _Finder(env, list(homes), list(areas), workspace)
    for entry in env.get("PATH", "").split(":"):
        if os.path.isabs(entry):
            found.path_entry(entry)
    found.variables_given()
    return found.result()


class _Finder:
    def __init__(self, env: Mapping[str, str], homes: list[str], areas: list[str], ws: str):
        self.env, self.homes, self.areas, self.ws = env, homes, areas, ws
        self.managers = _manager_roots(env, homes, ws)
        self.wanted: dict[str, Mount] = {}
        self.refused: dict[str, Mount] = {}
        self.links: dict[str, Mount] = {}
        self.variables: dict[str, str] = {}  # a manager's variable, when its folder is shown

    def hidden(self, path: str) -> bool:
        return under_any(path, self.areas) and not inside(path, self.ws)

    def path_entry(self, entry: str) -> None:
        """A PATH folder: shown itself (or its manager's folder), and followed to what its
        executables run from."""
        path = canonical(entry)
        if not os.path.isdir(path):
            return
        trusted = not reached_through(entry, self.ws)
        why = f"PATH entry {entry}"
        self._link_on_the_way(entry, path, why)
        manager = self._manager_of(os.path.abspath(entry)) or self._manager_of(path)
        if manager is not None and self.hidden(path):
            self.want(manager[1], f"{why}: inside {manager[0]}'s folder, which its shims run")
            return
        if _is_venv(os.path.dirname(path)):
            self.virtualenv(os.path.dirname(path), why)
        elif self.hidden(path) and trusted:  # never where a link the sandbox made leads
            prefix = _prefix_of_bin(path)
            if not (prefix and self.want(prefix, f"{why}: the installation it belongs to")):
                self.want(path, why, derived=False)  # the prefix may be refused, its bin/ not
        for name, target, interpreter in _scan(path):
            if name == "rustup":
                self._rustup(path, why)
            if target and self.hidden(target):
                link_trusted = trusted and not reached_through(os.path.join(path, name), self.ws)
                self.executable(target, f"{why}: {name} links to {target}", link_trusted)
            if interpreter and self.hidden(canonical(interpreter)):
                sure = trusted and not reached_through(interpreter, self.ws)
                self.executable(interpreter, f"{why}: {name} runs {interpreter}", sure)

    def _link_on_the_way(self, entry: str, path: str, why: str) -> None:
        """A PATH entry reached through a symlink in a hidden area (fnm's per-shell links,
        sdkman's `current`): the link is made again inside, since the area hides it."""
        given = os.path.abspath(entry)
        if given == path or not self.hidden(given):
            return
        link = _first_link(given)
        if link and self.hidden(link):
            self.links[link] = Mount(link, f"{why}: a symlink to {canonical(link)}",
                                     canonical(link))  # fmt: skip

    def executable(self, exe: str, why: str, trusted: bool) -> None:
        """The folder an executable runs from: its virtualenv (and base interpreter), its
        installation prefix, its manager's folder, its node package, else its folder. For a
        link the sandbox could have made, only the first three, inside a manager."""
        real = canonical(exe)
        venv = _venv_root(os.path.abspath(exe)) or _venv_root(real)
        if venv is not None:
            self.virtualenv(venv, why)
            return
        manager = self._manager_of(real)
        package = _node_package(real)
        prefix = _prefix_of_bin(os.path.dirname(real))
        if prefix is not None and self._depth_ok(prefix) and (trusted or manager):
            self.want(prefix, f"{why}, in the installation {prefix}")
        elif manager is not None:
            self.want(manager[1], f"{why}, inside {manager[0]}'s folder")
        elif not trusted:
            return  # a link the sandbox could have made: only to a virtualenv or a manager
        elif package is not None:
            self.want(package, f"{why}, in the node package {package}")
        else:
            self.want(os.path.dirname(real), why)

    def virtualenv(self, venv: str, why: str) -> None:
        """A virtualenv: itself when hidden, and the base interpreter its pyvenv.cfg names."""
        if self.hidden(venv):
            self.want(venv, f"{why}: the virtualenv {venv}")
        base = _base_prefix(venv)
        if base is not None and self.hidden(base):
            manager = self._manager_of(base)
            where = f"{base} (in {manager[0]}'s folder)" if manager else base
            self.want(base, f"the base interpreter of the virtualenv {venv}: {where}")

    def _rustup(self, folder: str, why: str) -> None:
        """cargo and rustc in ~/.cargo/bin are rustup's proxies: they run ~/.rustup's tools.
        The rustup folder of the same home, else the first one known."""
        roots = [r for n, r in self.managers if n == "rustup"]
        home = next((h for h in self.homes if inside(folder, h)), "")
        root = next((r for r in roots if home and inside(r, home)), roots[0] if roots else "")
        if root and self.hidden(root):
            self.want(root, f"{why}: rustup's proxies there run the toolchains in {root}")
            self.variables.setdefault("RUSTUP_HOME", root)

    def variables_given(self) -> None:
        """VIRTUAL_ENV, CONDA_PREFIX, GOROOT, GOPATH/bin, JAVA_HOME, GEM_HOME, GEM_PATH."""
        env = self.env
        if venv := _absolute(env.get("VIRTUAL_ENV", "")):
            trusted = not reached_through(venv, self.ws)
            root = canonical(venv)
            if os.path.isfile(os.path.join(root, "pyvenv.cfg")):
                self.virtualenv(root, f"VIRTUAL_ENV {venv}")
            elif trusted and self.hidden(root):
                self.want(root, f"VIRTUAL_ENV {venv}")
        for name in ("CONDA_PREFIX", "GOROOT", "JAVA_HOME", "GEM_HOME"):
            if value := _absolute(env.get(name, "")):
                self._given(value, f"{name} {value}")
        for value in env.get("GEM_PATH", "").split(":"):
            if _absolute(value):
                self._given(value, f"GEM_PATH entry {value}")
        if gopath := _absolute(env.get("GOPATH", "").split(":")[0]):
            self._given(os.path.join(gopath, "bin"), f"GOPATH {gopath}: its bin")

    def _given(self, value: str, why: str) -> None:
        """A folder a variable names; never where a link in the workspace leads (a conda
        environment made in the project, `conda create -p ./env`, replaced by a link)."""
        path = canonical(value)
        if reached_through(value, self.ws):
            return
        if os.path.isdir(path) and self.hidden(path):
            manager = self._manager_of(path)
            self.want(manager[1] if manager else path, why)

    def _manager_of(self, path: str) -> tuple[str, str] | None:
        return next(((n, r) for n, r in self.managers if inside(path, r)), None)

    def _depth_ok(self, path: str) -> bool:
        """Not a home's own folder (~/.cargo, ~/.local, ~/go): they hold more than tools."""
        return not any(os.path.dirname(path) == home for home in self.homes)

    def want(self, path: str, reason: str, derived: bool = True) -> bool:
        """Show path (when hidden and safe); False when it is refused. A folder the person
        put on PATH may be directly in a home (~/bin); one found from it may not."""
        if path in self.refused:
            return False
        if not self.hidden(path) or path in self.wanted:
            return True
        problem = self._problem(path, derived)
        if problem:
            self.refused[path] = Mount(path, problem)
            return False
        self.wanted[path] = Mount(path, reason)
        return True

    def _problem(self, path: str, derived: bool) -> str:
        if any(inside(area, path) for area in self.areas):
            return "it is or holds a hidden area (a home, /tmp, /run)"
        for home in self.homes:
            for place in CREDENTIALS:
                secret = os.path.join(home, place)
                if inside(secret, path) and os.path.lexists(secret):
                    return f"it holds {secret}, a credential"
        if name := _denied_entry(path):
            return f"it holds {os.path.join(path, name)}, on the secret-file deny-list"
        managed = any(path == root for _, root in self.managers)
        if derived and not managed and not _is_venv(path) and not self._depth_ok(path):
            return "it is a folder directly in a home, which holds more than tools"
        return ""

    def result(self) -> Toolchains:
        folders = sorted(self.wanted.values(), key=lambda m: m.path)
        kept = [m for m in folders if not any(inside(m.path, o.path) and m.path != o.path
                                              for o in folders)]  # fmt: skip
        shown = [m.path for m in kept]
        links = [m for m in self.links.values() if not under_any(m.path, shown)]
        variables = {}
        for name, root in [*self.variables.items(), *self.managers]:
            variable = name if name.isupper() else _variable_of(name)
            if variable and variable not in {**self.env, **variables} and root in shown:
                variables[variable] = root
        return Toolchains(kept + links, sorted(self.refused.values(), key=lambda m: m.path),
                          variables)  # fmt: skip


def _variable_of(manager: str) -> str:
    return next(v for n, v, _ in MANAGERS if n == manager)


def _manager_roots(
    env: Mapping[str, str], homes: Iterable[str], workspace: str
) -> list[tuple[str, str]]:
    """The version managers' folders; none reached through the workspace, whose links a
    command may have made."""
    found = []
    for name, variable, defaults in MANAGERS:
        given = _absolute(env.get(variable, "")) if variable else ""
        places = [given] if given else [os.path.join(h, d) for h in homes for d in defaults]
        found += [(name, canonical(p)) for p in places
                  if os.path.isdir(p) and not reached_through(p, workspace)]  # fmt: skip
    return found


def _absolute(value: str) -> str:
    return value if value and os.path.isabs(value) else ""


def _first_link(path: str) -> str | None:
    """The first component of an absolute path that is a symlink."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        if os.path.islink(current):
            return current
    return None


def _prefix_of_bin(folder: str) -> str | None:
    """The installation a `bin` folder belongs to: its parent, when that has a lib/ (or a
    JDK's `release`, a Go root's VERSION) beside it."""
    if os.path.basename(folder) != "bin":
        return None
    parent = os.path.dirname(folder)
    if any(os.path.exists(os.path.join(parent, m)) for m in PREFIX_MARKERS):
        return parent
    return None


def _node_package(path: str) -> str | None:
    """.../node_modules/NAME (or @scope/NAME) holding path, for a global npm tool's link."""
    parts = path.split("/")
    if "node_modules" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("node_modules")
    depth = 3 if at + 1 < len(parts) and parts[at + 1].startswith("@") else 2
    return "/".join(parts[: at + depth]) if at + depth <= len(parts) else None


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _venv_root(exe: str) -> str | None:
    folder = os.path.dirname(exe)
    for _ in range(VENV_DEPTH):
        if _is_venv(folder):
            return canonical(folder)
        folder = os.path.dirname(folder)
    return None


def _base_prefix(venv: str) -> str | None:
    """The installation of the interpreter a virtualenv was made from: pyvenv.cfg's `home`
    (its bin folder), followed to the real interpreter, whose prefix holds lib/pythonX.Y."""
    try:
        info = os.stat(os.path.join(venv, "pyvenv.cfg"))
    except OSError:
        return None
    return _base_prefix_cached(venv, info.st_mtime_ns, info.st_ino)


@functools.lru_cache(maxsize=256)
def _base_prefix_cached(venv: str, _mtime: int, _ino: int) -> str | None:
    home = ""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8", errors="replace") as f:
            for line in f.read(8192).splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home":
                    home = value.strip()
    except OSError:
        return None
    if not os.path.isabs(home):
        return None
    for name in ("python3", "python"):
        exe = canonical(os.path.join(home, name))
        if _is_program(exe):
            # A Python installation, not any folder pyvenv.cfg (which a command in the
            # workspace may have written) names: its standard library is there.
            prefix = os.path.dirname(os.path.dirname(exe))
            if glob.glob(os.path.join(glob.escape(prefix), "lib", "python3*", "os.py")):
                return prefix
    return None


def _is_program(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111)


# (name, canonical target of a symlink or "", absolute interpreter of a script or "")
Entry = tuple[str, str, str]


def _scan(folder: str) -> list[Entry]:
    try:
        info = os.stat(folder)
    except OSError:
        return []
    return _scan_cached(folder, info.st_mtime_ns, info.st_ino)


@functools.lru_cache(maxsize=512)
def _scan_cached(folder: str, _mtime: int, _ino: int) -> list[Entry]:
    """What the executables in a PATH folder lead to. A folder's mtime changes when a link is
    added, removed or replaced, which is when this must be read again."""
    found: list[Entry] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    read_scripts = not _is_system(folder)
    for entry in entries:
        if entry.is_symlink():
            target = canonical(entry.path)
            if not _is_system(target) and not inside(target, folder):
                found.append((entry.name, target, ""))
        elif read_scripts and entry.is_file(follow_symlinks=False):
            found.append((entry.name, "", _interpreter(entry.path)))
        elif entry.name == "rustup":
            found.append((entry.name, "", ""))
    return [e for e in found if e[1] or e[2] or e[0] == "rustup"]


def _is_system(folder: str) -> bool:
    """System folders hold thousands of programs whose scripts never name a home."""
    return folder.startswith(("/usr/", "/bin", "/sbin", "/etc/", "/snap/", "/nix/store/"))


def _interpreter(path: str) -> str:
    """A script's absolute interpreter (`#!/x/bin/python3`), "" for `env` and binaries."""
    try:
        with open(path, "rb") as f:
            head = f.read(SHEBANG_BYTES)
    except OSError:
        return ""
    if not head.startswith(b"#!"):
        return ""
    words = head[2:].split(b"\n", 1)[0].split()
    program = os.fsdecode(words[0]) if words else ""
    return program if program.startswith("/") and not _is_system(program) else ""


def _denied_entry(folder: str) -> str:
    try:
        info = os.stat(folder)
    except OSError:
        return ""
    return _denied_entry_cached(folder, info.st_mtime_ns, info.st_ino)


_DENY = DenyList(SECRET_FILES)


@functools.lru_cache(maxsize=512)
def _denied_entry_cached(folder: str, _mtime: int, _ino: int) -> str:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if _DENY.denies_name(entry.name, entry.is_dir(follow_symlinks=False)):
                    return entry.name
    except OSError:
        pass
    return ""


def explain_missing(
    output: str, env: Mapping[str, str], found: Toolchains, areas: Sequence[str], workspace: str
) -> str:
    """One line for a command that could not start because a folder it needed is not in the
    sandbox ("" when the output shows no such failure): a program bwrap could not exec, or a
    path a shell could not run, that exists on the host."""
    for path in _missing_paths(output, env):
        folder = _needed_folder(path, found, areas, workspace)
        if folder:
            refused = next((m.reason for m in found.refused if inside(folder, m.path)), "")
            why = (f"not shown: {refused}" if refused else "not a toolchain folder glasscoder "
                   "recognises; `glasscoder sandbox check` lists what is shown")  # fmt: skip
            return f"glasscoder: {path} could not run in the sandbox: it needs {folder} ({why})"
    return ""


_NOT_FOUND = (": No such file or directory", ": cannot execute: required file not found",
              ": required file not found", ": not found")  # fmt: skip


def _missing_paths(output: str, env: Mapping[str, str]) -> list[str]:
    paths = []
    for line in output.splitlines()[:50]:
        if not line.endswith(_NOT_FOUND):
            continue
        head = line.rsplit(": ", 2 if "cannot execute" in line else 1)[0]
        word = head.removeprefix("bwrap: execvp ").split(": ")[-1].strip()
        if not os.path.isabs(word):
            word = shutil.which(word, path=env.get("PATH", "")) or ""
        if word and _is_program(canonical(word)):  # never a hint about other files
            paths.append(word)
    return paths


def _needed_folder(path: str, found: Toolchains, areas: Sequence[str], ws: str) -> str:
    shown = found.folders()

    def missing(p: str) -> bool:
        return under_any(p, areas) and not inside(p, ws) and not under_any(p, shown)

    for candidate in (os.path.abspath(path), canonical(path)):
        if missing(candidate):
            return os.path.dirname(candidate)
    interpreter = _interpreter(canonical(path))
    if interpreter and missing(canonical(interpreter)):
        return os.path.dirname(canonical(interpreter))
    return ""
