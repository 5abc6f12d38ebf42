"""Inside the sandbox: a TCP proxy address on loopback, bridged to the host proxy's Unix socket.

Tools expect an http:// proxy address, but only a Unix socket crosses the sandbox's wall, and
the seccomp filter denies Unix sockets to the command. So when the allow-list is not empty,
bwrap starts this file (``python -I -S -c SOURCE``, standard library only) instead of the
command and without its own ``--seccomp``. It listens on 127.0.0.1 in the sandbox's network
namespace, forks the bridge off (reparented to bwrap's init, so no shell ever waits for it),
then loads the very seccomp program bwrap would have loaded, sets the proxy variables and
execs the command. The bridge is undumpable from birth (set before the fork), so the command
cannot open its memory through /proc and borrow its Unix socket; it ends with the sandbox's
PID namespace.

``command`` and ``mounts`` are the host side: what bwrap runs and mounts for it.
"""

from __future__ import annotations

import _socket  # not socket, whose imports cost ~10 ms before every command
import ctypes
import os
import sys

# Few imports at the top: this runs before every command when the allow-list is set. The
# bridge, forked off, imports threading while the command starts.

SOCKET_INSIDE = "/run/glasscoder-net.sock"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
NOT_STARTED = 126  # as bwrap.REFUSED_EXIT: the command was not started
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _PR_SET_DUMPABLE = 38, 22, 2, 4


# --- host side ---------------------------------------------------------------------------------


def command(seccomp_fd: int, argv: list[str]) -> list[str]:
    """The argv bwrap runs in place of ``argv``: this file, under the interpreter's own stdlib."""
    return [interpreter(), "-I", "-S", "-c", _source(), SOCKET_INSIDE, str(seccomp_fd), "--",
            *argv]  # fmt: skip


def mounts(socket_path: str) -> list[str]:
    """bwrap options, after the profile's own: the socket, and the interpreter's install (a
    tmpfs over $HOME would hide one kept there, as pyenv's is)."""
    prefix = os.path.dirname(os.path.dirname(interpreter()))
    return ["--ro-bind", socket_path, SOCKET_INSIDE, "--ro-bind", prefix, prefix]


def interpreter() -> str:
    """glasscoder's own base Python (not a venv's wrapper), or the system's when this user
    cannot run that one; the launcher needs nothing beyond the standard library."""
    own = os.path.realpath(sys._base_executable)
    for candidate in (own, "/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return own


_SOURCE: list[str] = []


def _source() -> str:
    if not _SOURCE:
        with open(__file__, encoding="utf-8") as f:
            _SOURCE.append(f.read())
    return _SOURCE[0]


# --- inside the sandbox ------------------------------------------------------------------------


def main(args: list[str]) -> None:
    if len(args) < 4 or args[2] != "--":
        _fail("usage: netbridge SOCKET SECCOMP_FD -- CMD ARGS...")
    socket_path, seccomp_fd, argv = args[0], int(args[1]), args[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    # Before the fork: the bridge is born undumpable, so there is no moment in which the
    # command could open its /proc/PID/mem. The command's exec makes it dumpable again.
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        _fail("cannot make the network bridge undumpable; the command was not started")
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    child = os.fork()
    if child == 0:
        if os.fork() == 0:  # the grandchild is the bridge; its parent exits at once
            _bridge(listener.detach(), socket_path, seccomp_fd)
        os._exit(0)
    os.waitpid(child, 0)
    listener.close()
    env = dict(os.environ)
    env.update(dict.fromkeys(PROXY_VARS, f"http://127.0.0.1:{port}"))
    env.update(dict.fromkeys(NO_PROXY_VARS, ""))
    _load_seccomp(libc, seccomp_fd)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        print(f"glasscoder sandbox: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)


def _load_seccomp(libc: ctypes.CDLL, fd: int) -> None:
    """Install the BPF program from fd for this process and what it execs; exit if it fails."""
    program = b""
    while chunk := os.pread(fd, 65536, len(program)):
        program += chunk
    os.close(fd)
    if not program or len(program) % 8:
        _fail("the seccomp program is empty or malformed; the command was not started")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if (
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        or libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0
    ):
        _fail(f"cannot load the seccomp filter ({os.strerror(ctypes.get_errno())}); "
              "the command was not started")  # fmt: skip


def _bridge(listener_fd: int, socket_path: str, seccomp_fd: int) -> None:
    import threading

    os.close(seccomp_fd)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the command's output pipe must close when the command ends
        os.dup2(null, fd)
    listener = _socket.socket(fileno=listener_fd)
    while True:
        client_fd, _ = listener._accept()
        client = _socket.socket(fileno=client_fd)
        threading.Thread(target=_join, args=(client, socket_path), daemon=True).start()


def _join(client: _socket.socket, socket_path: str) -> None:
    import threading

    host = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        host.connect(socket_path)
        back = threading.Thread(target=_pump, args=(host, client), daemon=True)
        back.start()
        _pump(client, host)
        back.join()
    except OSError:
        pass
    finally:
        host.close()
        client.close()


def _pump(src: _socket.socket, dst: _socket.socket) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    with contextlib.suppress(OSError):
        dst.shutdown(_socket.SHUT_WR)


def _fail(message: str) -> None:
    print(f"glasscoder sandbox: {message}", file=sys.stderr)
    os._exit(NOT_STARTED)


if __name__ == "__main__":
    main(sys.argv[1:])
