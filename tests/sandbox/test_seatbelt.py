"""The macOS seatbelt profile as text (this project's machines are Linux: no sandbox-exec runs
here). A small reader of SBPL's s-expressions checks the quoting round-trips and the rules'
order, which decides the policy: in a seatbelt profile the last matching rule wins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from glasscoder.errors import UsageError
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import PROTECTED, REFUSED_EXIT, BindRefused
from glasscoder.sandbox.choose import choose
from glasscoder.sandbox.seatbelt import SeatbeltSandbox, profile, quote

WS, TMP = "/Users/ann/proj", "/private/var/folders/xy/T/glasscoder-tmp-1"


def read_sexprs(text: str) -> list:
    """SBPL text as nested lists; strings become ("str", value) with escapes undone."""
    stack: list[list] = [[]]
    i = 0
    while i < len(text):
        c = text[i]
        if c == "(":
            stack.append([])
        elif c == ")":
            done = stack.pop()
            stack[-1].append(done)
        elif c == '"':
            value, i = _read_string(text, i + 1)
            stack[-1].append(("str", value))
        elif not c.isspace():
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in "()":
                end += 1
            stack[-1].append(text[i:end])
            i = end - 1
        i += 1
    assert len(stack) == 1, "unbalanced parentheses"
    return stack[0]


def _read_string(text: str, i: int) -> tuple[str, int]:
    out = []
    while text[i] != '"':
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i


def rules(text: str) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """(allow|deny, operations, [(filter kind, path)]) in order."""
    found = []
    for form in read_sexprs(text):
        if form[0] in ("allow", "deny"):
            ops = [x for x in form[1:] if isinstance(x, str)]
            filters = [(f[0], f[1][1]) for f in form[1:] if isinstance(f, list)]
            found.append((form[0], ops, filters))
    return found


def last_rule_for(text: str, op: str, path: str) -> str:
    """What the profile decides for op on path: the last matching rule's action."""
    verdict = ""
    for action, ops, filters in rules(text):
        if not any(o in (op, "default") or (o.endswith("*") and op.startswith(o[:-1]))
                   for o in ops):  # fmt: skip
            continue
        if not filters or any(
            (kind == "literal" and path == p) or (kind == "subpath" and
                                                  (path == p or path.startswith(p + "/")))
            for kind, p in filters
        ):  # fmt: skip
            verdict = action
    return verdict


@pytest.mark.parametrize(
    "path", ['/Users/ann/my "quoted" dir', "/Users/ann/back\\slash", '/x/\\"both\\', "/x/ü é"]
)
def test_quoting_round_trips(path: str) -> None:
    assert read_sexprs(quote(path)) == [("str", path)]
    text = profile(path, TMP)
    assert ("subpath", path) in [f for _, _, fs in rules(text) for f in fs]
    assert last_rule_for(text, "file-write-data", path + "/a.txt") == "allow"


@pytest.mark.parametrize("path", ["/x/new\nline", "/x/nul\0", "/x/esc\x1b[2J", "/x/del\x7f"])
def test_control_characters_are_refused_not_escaped(path: str) -> None:
    with pytest.raises(BindRefused, match="control character"):
        quote(path)


def test_writes_only_in_the_workspace_and_temp_folder() -> None:
    text = profile(WS, TMP, ["/Users/ann"])
    for path in (f"{WS}/src/a.py", f"{WS}/new.txt", f"{TMP}/x", "/dev/null"):
        assert last_rule_for(text, "file-write-create", path) == "allow", path
    for path in ("/etc/hosts", "/Users/ann/.zshrc", "/Users/ann/proj2/x", "/usr/local/bin/x",
                 "/private/tmp/x"):  # fmt: skip
        assert last_rule_for(text, "file-write-data", path) == "deny", path


@pytest.mark.parametrize("name", PROTECTED)
def test_protected_entries_are_read_only_even_when_missing(name: str) -> None:
    text = profile(WS, TMP, read_only=[f"{WS}/cfg/config.toml", "/elsewhere/config.toml"])
    for path in (f"{WS}/{name}", f"{WS}/{name}/hooks/pre-commit", f"{WS}/cfg/config.toml"):
        assert last_rule_for(text, "file-write-create", path) == "deny", path
        assert last_rule_for(text, "file-read-data", path) == "allow", path
    assert "/elsewhere" not in text  # outside the workspace: already not writable


def test_no_network_rule_allows_anything() -> None:
    text = profile(WS, TMP, ["/Users/ann"])
    network = [(action, ops) for action, ops, _ in rules(text)
               if any(o.startswith("network") for o in ops)]  # fmt: skip
    assert network == [("deny", ["network*"])]
    assert last_rule_for(text, "network-outbound", "/var/run/docker.sock") == "deny"


def test_credentials_and_glasscoders_data_are_unreadable() -> None:
    text = profile(WS, TMP, ["/Users/ann"], hidden=["/Users/ann/Library/glasscoder"])
    for path in ("/Users/ann/.ssh/id_ed25519", "/Users/ann/.aws/credentials",
                 "/Users/ann/.netrc", "/Users/ann/Library/glasscoder/audit.key"):  # fmt: skip
        assert last_rule_for(text, "file-read-data", path) == "deny", path
    assert last_rule_for(text, "file-read-data", "/Users/ann/.zshrc") == "allow"


def test_the_profile_starts_with_its_version_and_default() -> None:
    assert profile(WS, TMP).startswith("(version 1)\n(allow default)\n(deny network*)\n")


def test_the_backend_refuses_to_run_off_macos(tmp_path: Path) -> None:
    if sys.platform == "darwin":
        pytest.skip("this checks the guard on other systems")
    result = SeatbeltSandbox().run(["true"], tmp_path, {"PATH": "/usr/bin"}, Limits())
    assert result.exit_code == REFUSED_EXIT and "needs macOS" in result.output
    with pytest.raises(UsageError, match="seatbelt sandbox needs macOS"):
        choose("seatbelt")
