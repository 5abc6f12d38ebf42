"""Invariant: guard/egress.py is the one way out; no other module can reach the network.

Every import in src/glasscoder is read with `ast` (lazy imports inside functions and
importlib.import_module("...") / __import__("...") calls included).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import glasscoder

PACKAGE = Path(glasscoder.__file__).parent
NETWORK = frozenset(
    {"socket", "_socket", "ssl", "http.client", "urllib.request", "httpx", "httpx2", "httpcore",
     "httpcore2", "urllib3", "requests", "aiohttp", "websockets"}
)  # fmt: skip
# module (relative to the package) -> the forbidden imports it alone may use
ALLOWED = {
    "guard/egress.py": NETWORK,
    "models/openai_compat.py": frozenset({"openai"}),
    # huggingface_hub is a network client of its own (it speaks HTTP through httpx2). It is
    # allowed in this one module because a download there is explicit (`models pull`, run by
    # the person), audited (pulls.jsonl) and verified (SHA-256) before the file is used.
    "models/pull.py": frozenset({"huggingface_hub"}),
    # The sandbox's network proxy and its bridge: a second way out, but only for the commands
    # the model runs, only to hosts the person listed (allow_net; empty by default, and a
    # repository's config cannot set it), every decision audited. Raw sockets only: no HTTP
    # client, so nothing of glasscoder's own can ride on it.
    "sandbox/netproxy.py": frozenset({"socket"}),
    "sandbox/netbridge.py": frozenset({"_socket"}),  # runs inside the sandbox's namespace
}
FORBIDDEN = NETWORK | {"openai", "huggingface_hub"}


def imported_names(tree: ast.AST) -> Iterator[str]:
    """Every module a file imports, as dotted names (`from http import client` -> http.client)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and (name := _literal_import(node)):
            yield name


def _literal_import(call: ast.Call) -> str | None:
    """The name in importlib.import_module("x") or __import__("x"), when it is a literal."""
    func = call.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    if called not in ("__import__", "import_module") or not call.args:
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def forbidden_in(name: str) -> str | None:
    """The forbidden module `name` is or lies under, if any."""
    for module in FORBIDDEN:
        if name == module or name.startswith(module + "."):
            return module
    return None


def offences() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        allowed = ALLOWED.get(rel, frozenset())
        for name in imported_names(ast.parse(path.read_text(), filename=str(path))):
            module = forbidden_in(name)
            if module and module not in allowed:
                found.append(f"{rel} imports {name}")
    return sorted(set(found))


def test_only_egress_reaches_the_network() -> None:
    assert offences() == []


def test_the_check_sees_the_imports_it_allows() -> None:
    # Guards against a walker that finds nothing and so passes vacuously.
    egress = ast.parse((PACKAGE / "guard/egress.py").read_text())
    assert "httpx2" in set(imported_names(egress))
    provider = ast.parse((PACKAGE / "models/openai_compat.py").read_text())
    assert "openai" in set(imported_names(provider))  # imported lazily, inside the class
    pull = ast.parse((PACKAGE / "models/pull.py").read_text())
    assert "huggingface_hub" in set(imported_names(pull))
    netproxy = ast.parse((PACKAGE / "sandbox/netproxy.py").read_text())
    assert "socket" in set(imported_names(netproxy))
    netbridge = ast.parse((PACKAGE / "sandbox/netbridge.py").read_text())
    assert "_socket" in set(imported_names(netbridge))


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import _socket",
        "from http import client",
        "import urllib.request as r",
        "def f():\n    import httpx2",
        "import importlib\nimportlib.import_module('requests')",
        "__import__('aiohttp.client')",
        "from openai import OpenAI",
        "from huggingface_hub import hf_hub_download",
        "def f():\n    import huggingface_hub.file_download",
    ],
)
def test_the_check_catches_each_way_of_importing(source: str) -> None:
    names = imported_names(ast.parse(source))
    assert any(forbidden_in(n) for n in names)
