"""No way back to the host (issue 10, "ways out"): each attack is made from inside the sandbox,
as root and as an ordinary user (uid 65534 through setpriv), and its effect is looked for
from the host: a planted program the host would run, a protected path created, glasscoder's
config or data changed, the real home read, a secret-looking variable, and the resource
bounds for the command as a whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from glasscoder.sandbox import hostpaths
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import xml_call
from tests.sandbox.conftest import NOBODY, Arena, skip_unless_nobody_can_run_glasscoder

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
PLANTED = '#!/bin/sh\necho ran > {marker}\nexec /usr/bin/{name} "$@"\n'

# Runs one command through the sandbox glasscoder builds (choose.make_bwrap), in a fresh
# process of the user under test; SETUP may change what that process believes first.
SNIPPET = """
import json, sys
from pathlib import Path
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import make_bwrap
{setup}
box = make_bwrap()
result = box.run(["bash", "-c", {script!r}], Path({ws!r}), {env!r}, Limits(**{limits!r}))
print(json.dumps({{"exit": result.exit_code, "output": result.output,
                  "memory_limited": box.memory_limited}}))
"""


@dataclass
class User:
    name: str  # "root" or "nobody"
    arena: Arena
    python: str = sys.executable
    pythonpath: str = ""  # set when python is not this process's own interpreter

    def give(self, *paths: Path) -> None:
        """Hand the paths (and all below them) to the user under test."""
        if self.name != "nobody":
            return
        for top in paths:
            for path in (top, *top.rglob("*")):
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)

    def argv(self, *args: str) -> list[str]:
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        return [*(drop if self.name == "nobody" else []), self.python, *args]

    def env(self, **extra: str) -> dict[str, str]:
        base = {"XDG_CONFIG_HOME": str(self.arena.base / "config"),
                "XDG_DATA_HOME": str(self.arena.data)}  # fmt: skip
        path = {"PYTHONPATH": self.pythonpath} if self.pythonpath else {}
        return {**self.arena.env(), **base, **path, **extra}

    def glasscoder(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv("-m", "glasscoder", *args), cwd=cwd, env=self.env(**env),
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    def sandboxed(self, script: str, ws: Path, setup: str = "", limits: dict | None = None,
                  **env: str) -> dict:  # fmt: skip
        """bash -c script in ws through BwrapSandbox.run, in a process of this user."""
        code = SNIPPET.format(setup=textwrap.dedent(setup), script=script, ws=str(ws),
                              env=self.env(**env), limits=limits or {})  # fmt: skip
        proc = subprocess.run(self.argv("-c", code), cwd="/", env=self.env(**env),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(params=["root", "nobody"])
def user(request, sandbox, arena: Arena) -> Iterator[User]:
    if request.param == "root":
        if os.geteuid() != 0:
            pytest.skip("the root variant needs root")
        yield User("root", arena)
        return
    nobody = User("nobody", arena, *_python_for_nobody())
    nobody.give(arena.base)
    yield nobody


def _python_for_nobody() -> tuple[str, str]:
    """This interpreter, or, when it lives in a folder private to root (a home of mode 700),
    the system's interpreter of the same version given this one's sys.path."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an ordinary user")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    path = os.pathsep.join(p for p in sys.path if p)
    for python, pythonpath in ((sys.executable, ""), (f"/usr/bin/{version}", path)):
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                python, "-c", "import glasscoder.cli"]  # fmt: skip
        probe = subprocess.run(argv, capture_output=True, cwd="/", timeout=60,
                               env={"PYTHONPATH": pythonpath} if pythonpath else {})  # fmt: skip
        if probe.returncode == 0:
            return python, pythonpath
    skip_unless_nobody_can_run_glasscoder()  # skips, saying why
    raise AssertionError("unreachable")


def fresh_workspace(user: User, name: str = "fresh") -> Path:
    """A workspace with no .git and none of the protected entries, owned by the user."""
    ws = user.arena.base / name
    ws.mkdir()
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_text("print('app')\n")
    user.give(ws)
    return ws


# --- 1. the host never runs what the sandbox wrote ------------------------------------------


def test_a_git_planted_in_an_activated_venv_is_never_run_by_the_host(user: User) -> None:
    """A scripted model's command writes .venv/bin/git (on PATH, activated); the run's own
    git status at its end must not run it. Before the fix it did, as the person."""
    ws = user.arena.ws
    (ws / ".venv" / "bin").mkdir(parents=True)
    marker = user.arena.base / "host-ran-planted-git"
    script = PLANTED.format(marker=marker, name="git").replace("\n", "\\n")
    command = f"printf '{script}' > .venv/bin/git && chmod +x .venv/bin/git && echo planted"
    user.give(ws, user.arena.base)
    replies = [xml_call("run_shell", command=command), "Done."]
    with FakeOpenAIServer(replies) as srv:
        run = user.glasscoder("-p", "Go.", "--endpoint", srv.base_url, "--approval", "auto",
                              "--output-format", "json", cwd=ws,
                              PATH=f"{ws / '.venv' / 'bin'}:{SYSTEM_PATH}",
                              VIRTUAL_ENV=str(ws / ".venv"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "planted" in srv.requests[1].json["messages"][-1]["content"]
    assert (ws / ".venv" / "bin" / "git").exists()  # the command did write it...
    assert not marker.exists()  # ...and the host never ran it


def test_host_programs_are_found_outside_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    planted = ws / ".venv" / "bin"
    planted.mkdir(parents=True)
    for name in ("git", "rg", "ruff"):
        (planted / name).write_text("#!/bin/sh\n")
        (planted / name).chmod(0o755)
    outside = tmp_path / "bin"
    outside.mkdir()
    (outside / "rg").symlink_to(planted / "rg")  # a link from outside pointing in
    path = f"{planted}:{outside}:{SYSTEM_PATH}"
    assert hostpaths.find("git", ws, path) == shutil.which("git", path=SYSTEM_PATH)
    for name in ("rg", "ruff"):  # the system's copy when there is one, never the planted one
        found = hostpaths.find(name, ws, path)
        assert found is None or not found.startswith(str(tmp_path))
    assert hostpaths.trusted_path(ws, f"relative/bin:{planted}:/usr/bin") == "/usr/bin"


FAKE_INSTALL = """
import sys
ws = {ws!r}
sys.prefix = sys.exec_prefix = ws + "/.venv"
sys.path.append(ws + "/.venv/lib/python3/site-packages")
sys.path.append(ws + "/src")
"""


def test_glasscoder_installed_in_the_workspace_is_read_only_inside(user: User) -> None:
    """The README's dev layout: glasscoder's venv and source inside the workspace. A command
    tries to replace the venv's rg and glasscoder's own module, and to plant a module on
    sys.path; the host would import or run each later."""
    ws = user.arena.ws
    site = ws / ".venv" / "lib" / "python3" / "site-packages" / "glasscoder"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("# glasscoder\n")
    (ws / ".venv" / "bin").mkdir()
    (ws / ".venv" / "bin" / "rg").write_text("#!/bin/sh\n# the wheel's rg\n")
    (ws / "src").mkdir()
    user.give(ws)
    attack = ("echo evil > .venv/bin/rg; echo evil >> "
              ".venv/lib/python3/site-packages/glasscoder/__init__.py; "
              "echo evil > src/llama_cpp.py; echo ok > made.txt")  # fmt: skip
    got = user.sandboxed(attack, ws, setup=FAKE_INSTALL.format(ws=str(ws)))
    assert "Read-only file system" in got["output"], got["output"]
    assert (ws / ".venv" / "bin" / "rg").read_text() == "#!/bin/sh\n# the wheel's rg\n"
    assert (site / "__init__.py").read_text() == "# glasscoder\n"
    assert not (ws / "src" / "llama_cpp.py").exists()
    assert (ws / "made.txt").read_text() == "ok\n"  # the rest of the workspace stays writable


def test_own_paths_inside_the_workspace_are_found(tmp_path: Path, monkeypatch) -> None:
    ws = tmp_path / "ws"
    (ws / ".venv" / "bin").mkdir(parents=True)
    (ws / "src").mkdir()
    monkeypatch.setattr(sys, "prefix", str(ws / ".venv"))
    monkeypatch.setattr(sys, "path", [*sys.path, str(ws / "src"), str(ws)])
    found = hostpaths.read_only_inside(str(ws.resolve()))
    assert found == [str((ws / ".venv").resolve()), str((ws / "src").resolve())]


# --- 2. protected paths cannot be created ---------------------------------------------------

CREATE_PROTECTED = ("git init -q . ; git config core.fsmonitor 'touch /tmp/x'; "
                    "mkdir -p .git/hooks; echo 'touch pwned' > .git/hooks/pre-commit; "
                    "echo 'export A=1' > .envrc; mkdir .vscode .idea .glasscoder; "
                    "echo '{}' > .vscode/tasks.json; echo gitdir: /x > .git; "
                    "echo ok > new.txt; mkdir newdir; mkdir -p .pytest_cache/v; "
                    "echo 1 > .pytest_cache/v/x; "
                    "git --version > /dev/null && echo git-ok")  # fmt: skip


def test_missing_protected_paths_cannot_be_created_and_leave_no_trace(user: User) -> None:
    ws = fresh_workspace(user)
    got = user.sandboxed(CREATE_PROTECTED, ws)
    assert "git-ok" in got["output"], got["output"]
    names = sorted(p.name for p in ws.iterdir())
    assert names == [".pytest_cache", "new.txt", "newdir", "src"], got["output"]
    assert (ws / ".pytest_cache" / "v" / "x").read_text() == "1\n"
    status = subprocess.run(["git", "status"], cwd=ws, capture_output=True, text=True)
    assert "not a git repository" in status.stderr


def test_ordinary_top_level_work_still_runs(user: User) -> None:
    """Renames, removals and atomic rewrites of top-level entries, which a read-only top
    folder would have broken, work; git in a repository works."""
    ws = user.arena.ws
    (ws / "notes.txt").write_text("old\n")
    (ws / "build").mkdir()
    user.give(ws)
    script = ("sed -i s/old/new/ notes.txt && mv notes.txt renamed.txt && rm -r build && "
              "git status --short > /dev/null && echo fine")  # fmt: skip
    got = user.sandboxed(script, ws)
    assert "fine" in got["output"], got["output"]
    assert (ws / "renamed.txt").read_text() == "new\n" and not (ws / "build").exists()


def test_placeholders_are_shared_by_overlapping_commands(user: User) -> None:
    """Two commands at once on one workspace: the one ending first must not lift the other's
    placeholder (removing it on the host would unmount it in the other command)."""
    ws = fresh_workspace(user)
    first = subprocess.Popen(user.argv("-m", "glasscoder", "sandbox", "run", "--", "bash", "-c",
                                       "while [ ! -e go ]; do sleep 0.05; done; mkdir .git "
                                       "&& echo MADE"),
                             cwd=ws, env=user.env(), stdout=subprocess.PIPE, text=True)  # fmt: skip
    user.glasscoder("sandbox", "run", "--", "touch", "go", cwd=ws)
    out, _ = first.communicate(timeout=60)
    assert "MADE" not in out
    assert sorted(p.name for p in ws.iterdir()) == ["go", "src"]


# --- 3. glasscoder's config and data below the workspace ------------------------------------


def test_config_and_data_below_the_workspace_cannot_be_changed(user: User) -> None:
    """XDG_CONFIG_HOME and XDG_DATA_HOME inside a workspace under the home (where the mounts
    were skipped before): the command appends `sandbox = "none"` to the user config, edits a
    session and reads the audit key."""
    ws = user.arena.home / "proj"
    config = ws / ".config" / "glasscoder" / "config.toml"
    session = ws / ".local" / "share" / "glasscoder" / "sessions" / "s1"
    config.parent.mkdir(parents=True)
    config.write_text("max_turns = 5\n")
    session.mkdir(parents=True)
    (session / "transcript.jsonl").write_text("{}\n")
    (session.parent.parent / "audit.key").write_text("AUDIT-KEY\n")
    user.give(user.arena.home)
    xdg = {"XDG_CONFIG_HOME": str(ws / ".config"), "XDG_DATA_HOME": str(ws / ".local/share")}
    attack = ("echo 'sandbox = \"none\"' >> .config/glasscoder/config.toml; "
              "echo evil >> .local/share/glasscoder/sessions/s1/transcript.jsonl; "
              "cat .local/share/glasscoder/audit.key; echo ok > made.txt; "
              # renaming a folder above them away, to make them afresh under the old name
              "mv .config .config-old; mv .local/share .local/old; mkdir -p .config/glasscoder "
              "&& echo 'sandbox = \"none\"' > .config/glasscoder/config.toml")  # fmt: skip
    got = user.sandboxed(attack, ws, **xdg)
    assert config.read_text() == "max_turns = 5\n"
    assert (session / "transcript.jsonl").read_text() == "{}\n"
    assert "AUDIT-KEY" not in got["output"]
    assert (ws / "made.txt").read_text() == "ok\n"
    assert not (ws / ".config-old").exists() and not (ws / ".local" / "old").exists()


def test_a_missing_config_below_the_workspace_cannot_be_planted(user: User) -> None:
    ws = fresh_workspace(user)
    xdg = {"XDG_CONFIG_HOME": str(ws / "cfg"), "XDG_DATA_HOME": str(ws / "data"),
           "GLASSCODER_CONFIG": str(ws / "mine.toml")}  # fmt: skip
    attack = ("mkdir -p cfg/glasscoder; echo 'sandbox = \"none\"' > cfg/glasscoder/config.toml;"
              " mkdir -p data/glasscoder; echo key > data/glasscoder/audit.key; "
              "echo 'sandbox = \"none\"' > mine.toml; echo ok > made.txt")  # fmt: skip
    user.sandboxed(attack, ws, **xdg)
    assert sorted(p.name for p in ws.iterdir()) == ["made.txt", "src"]


# --- 4. both homes hidden -------------------------------------------------------------------

PASSWD_HOME = """
import glasscoder.sandbox.paths as paths
paths.passwd_home = lambda: {home!r}
"""


def test_the_passwd_home_is_hidden_when_home_points_elsewhere(user: User) -> None:
    """$HOME names the arena's home; the account's own home (the password database's) holds
    the credentials and must be hidden as well."""
    real = user.arena.base / "passwd-home"
    (real / ".cargo").mkdir(parents=True)
    (real / ".npmrc").write_text("//registry.npmjs.org/:_authToken=NPM-SECRET\n")
    (real / ".cargo" / "credentials.toml").write_text("token = 'CARGO-SECRET'\n")
    user.give(real)
    script = f"ls -a {real}; cat {real}/.npmrc {real}/.cargo/credentials.toml 2> /dev/null"
    got = user.sandboxed(script, user.arena.ws, setup=PASSWD_HOME.format(home=str(real)))
    assert "NPM-SECRET" not in got["output"] and "CARGO-SECRET" not in got["output"]
    assert ".npmrc" not in got["output"]


def test_the_real_passwd_home_is_hidden_for_root(user: User) -> None:
    if user.name != "root":
        pytest.skip("uid 65534's passwd home does not exist")
    import pwd

    home = Path(pwd.getpwuid(0).pw_dir)
    secret = home / f".glasscoder-test-{uuid.uuid4().hex}"
    secret.write_text("ROOT-HOME-SECRET\n")
    try:
        got = user.sandboxed(f"cat {secret} 2> /dev/null; ls -a {home}", user.arena.ws)
    finally:
        secret.unlink()
    assert "ROOT-HOME-SECRET" not in got["output"] and secret.name not in got["output"]


# --- 5. environment, memory, tmpfs, disk, socket families -----------------------------------


def test_only_listed_locale_variables_pass(user: User) -> None:
    got = user.glasscoder("sandbox", "run", "--", "env", cwd=user.arena.ws,
                          LC_MY_TOKEN="tok-123456", LC_ALL="C.UTF-8")  # fmt: skip
    assert "LC_ALL=C.UTF-8" in got.stdout, got.stdout + got.stderr
    assert "LC_MY_TOKEN" not in got.stdout and "tok-123456" not in got.stdout


# Each process touches its memory, says so, then waits (at most 10 s) until all three have:
# so they hold their memory at the same time.
ALLOCATE = ("import os, time; b = bytearray({size}); b[::4096] = b'x' * len(b[::4096]); "
            "open('/tmp/ready-%d' % os.getpid(), 'w').close(); end = time.time() + 10\n"
            "while len([n for n in os.listdir('/tmp') if n.startswith('ready-')]) < 3 "
            "and time.time() < end: time.sleep(0.01)")  # fmt: skip


def test_memory_is_bounded_for_the_whole_command(user: User) -> None:
    """Three processes, each well under the per-process address space, together over the
    command's memory limit: the kernel stops one and the output says so."""
    mib = 1 << 20
    each = ALLOCATE.format(size=200 * mib)
    script = " & ".join([f'python3 -c "{each}" && echo survived'] * 3) + " & wait"
    got = user.sandboxed(script, user.arena.ws, limits={"memory": 256 * mib},
                         PATH=SYSTEM_PATH)  # fmt: skip
    if not got["memory_limited"]:
        check = user.glasscoder("sandbox", "check", cwd=user.arena.ws)
        assert "memory: per process only" in check.stdout, check.stdout
        pytest.skip("no memory cgroup for this user here; `sandbox check` says so")
    assert got["output"].count("survived") < 3, got["output"]
    assert "memory limit of 0.25 GiB" in got["output"]


def test_the_sandbox_tmp_is_capped(user: User) -> None:
    mib = 1 << 20
    script = ("for i in 1 2 3; do head -c 40000000 /dev/zero > /tmp/f$i || echo FULL; done; "
              "df -k /tmp | tail -1")  # fmt: skip
    got = user.sandboxed(script, user.arena.ws, limits={"tmpfs_size": 64 * mib})
    assert "FULL" in got["output"], got["output"]
    assert " 65536 " in got["output"]  # df: the tmpfs's size in KiB


def test_filling_the_workspace_disk_stops_the_command(user: User) -> None:
    mib = 1 << 20
    # Past the bound the command is stopped while it waits: the echo after never runs.
    script = ("for i in 1 2 3 4 5; do head -c 20000000 /dev/zero > big$i; done; sync; "
              "sleep 30; echo AFTER")  # fmt: skip
    got = user.sandboxed(script, user.arena.ws, limits={"disk_growth": 64 * mib, "timeout": 60})
    assert "AFTER" not in got["output"], got["output"]
    assert "filled more than 0.0625 GiB of disk" in got["output"]


SOCKETS = """
import errno, socket
for name, family, kind, proto in [("vsock", 40, 1, 0), ("alg", 38, 5, 0), ("packet", 17, 3, 0),
        ("netlink-uevent", 16, 2, 15), ("bluetooth", 31, 1, 0), ("unix", 1, 1, 0),
        ("inet", 2, 1, 0), ("inet6", 10, 1, 0), ("netlink-route", 16, 2, 0)]:
    try:
        socket.socket(family, kind, proto).close()
        print(name, "made")
    except OSError as exc:
        print(name, errno.errorcode.get(exc.errno))
try:
    socket.socketpair(socket.AF_UNIX).__class__
    print("pair-unix made")
except OSError as exc:
    print("pair-unix", errno.errorcode.get(exc.errno))
"""


def test_only_the_socket_families_the_sandbox_needs(user: User) -> None:
    got = user.sandboxed(f"python3 -c '{SOCKETS}'", user.arena.ws, PATH=SYSTEM_PATH)
    lines = dict(line.split(" ", 1) for line in got["output"].splitlines() if " " in line)
    for refused in ("vsock", "alg", "packet", "netlink-uevent", "bluetooth", "unix"):
        assert lines.get(refused) == "EPERM", got["output"]
    for allowed in ("inet", "inet6", "netlink-route", "pair-unix"):
        assert lines.get(allowed) == "made", got["output"]


# --- sandbox check states each protection ---------------------------------------------------


def test_sandbox_check_states_each_protection(user: User) -> None:
    check = user.glasscoder("sandbox", "check", cwd=user.arena.ws)
    text = check.stdout
    assert check.returncode == 0, check.stderr
    for phrase in ("never runs a program or loads a file the sandbox could have written",
                   "cannot be created", "glasscoder's config", "passwd home",
                   "LC_MY_TOKEN", "socket families", "/tmp and HOME", "disk"):  # fmt: skip
        assert phrase in text, (phrase, text)
    assert "memory: at most" in text or "memory: per process only" in text


def _install_glasscoder_in(ws: Path) -> Path:
    """The README's dev layout inside ws: a venv at ws/.venv whose interpreter is the system's
    (runnable by any user), glasscoder's package copied to ws/src, dependencies through a .pth
    file, and the ripgrep wheel's rg in .venv/bin. Returns the venv's python."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = shutil.which(version, path="/usr/bin:/usr/local/bin")
    rg = Path(sys.executable).parent / "rg"
    if base is None or not rg.is_file():
        pytest.skip(f"needs /usr/bin/{version} and the ripgrep wheel")
    subprocess.run([base, "-m", "venv", "--without-pip", str(ws / ".venv")], check=True)
    site = ws / ".venv" / "lib" / version / "site-packages"
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join([str(ws / "src"), *deps]) + "\n")
    shutil.copytree(Path(hostpaths.__file__).parent.parent, ws / "src" / "glasscoder",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy2(rg, ws / ".venv" / "bin" / "rg")
    return ws / ".venv" / "bin" / "python"


def test_a_run_of_glasscoder_installed_in_the_workspace_cannot_be_rewritten(user: User) -> None:
    """End to end: glasscoder runs from the workspace's own .venv; the model's command tries to
    replace .venv/bin/rg and glasscoder's own search module, and the next grep call would run
    or import them on the host."""
    ws = user.arena.ws
    python = _install_glasscoder_in(ws)
    marker = user.arena.base / "host-ran-planted-rg"
    search = ws / "src" / "glasscoder" / "tools" / "search.py"
    original = search.read_bytes()
    user.give(ws, user.arena.base)
    planted = f"#!/bin/sh\\necho ran > {marker}\\n"
    command = (f"printf '{planted}' > .venv/bin/rg; "
               f"echo 'open(\"{marker}\", \"w\")' >> src/glasscoder/tools/search.py; "
               "echo tried")  # fmt: skip
    replies = [xml_call("run_shell", command=command), xml_call("grep", pattern="tried"), "Done."]
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    with FakeOpenAIServer(replies) as srv:
        argv = [*(drop if user.name == "nobody" else []), str(python), "-m", "glasscoder", "-p",
                "Go.", "--endpoint", srv.base_url, "--approval", "auto"]  # fmt: skip
        env = {k: v for k, v in user.env().items() if k != "PYTHONPATH"}
        run = subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Read-only file system" in srv.requests[1].json["messages"][-1]["content"]
    assert not marker.exists()
    assert search.read_bytes() == original
    assert (ws / ".venv" / "bin" / "rg").read_bytes() == (
        Path(sys.executable).parent / "rg"
    ).read_bytes()


def test_landlock_keeps_config_and_own_files_below_the_workspace(arena: Arena, monkeypatch) -> None:
    from glasscoder.sandbox.base import Limits
    from glasscoder.sandbox.choose import landlock_status
    from glasscoder.sandbox.landlock import LandlockSandbox

    if not landlock_status().ok:
        pytest.skip(f"landlock unavailable: {landlock_status().problem}")
    ws = arena.ws
    config = ws / "cfg" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_turns = 5\n")
    (ws / ".venv" / "bin").mkdir(parents=True)
    (ws / ".venv" / "bin" / "rg").write_text("the wheel's rg\n")
    (ws / "src").mkdir()
    monkeypatch.setattr(sys, "prefix", str(ws / ".venv"))
    box = LandlockSandbox([ws / "data"], [config.parent, config])
    attack = ("echo 'sandbox = \"none\"' >> cfg/glasscoder/config.toml; "
              "echo evil > .venv/bin/rg; echo ok > src/made.txt")  # fmt: skip
    box.run(["bash", "-c", attack], ws, arena.env(), Limits())
    assert config.read_text() == "max_turns = 5\n"
    assert (ws / ".venv" / "bin" / "rg").read_text() == "the wheel's rg\n"
    assert (ws / "src" / "made.txt").read_text() == "ok\n"
