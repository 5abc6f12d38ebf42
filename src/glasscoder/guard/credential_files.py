"""Credential files that developer tools keep, read for the exact secrets they hold.

One small reader per store, each yielding ``KnownSecret``s whose ``source`` names the file and
the key (never the value):

- AWS: ``~/.aws/credentials`` and ``~/.aws/config`` (``$AWS_SHARED_CREDENTIALS_FILE``,
  ``$AWS_CONFIG_FILE``): secret keys, session tokens, access key ids;
- Docker: ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``): ``auths.*.auth`` (the base64
  and the password inside), identity and registry tokens;
- npm: ``~/.npmrc`` (``$NPM_CONFIG_USERCONFIG``) and the workspace's ``.npmrc``: ``_authToken``,
  ``_auth``, ``_password`` (the last two also decoded from base64);
- Python: ``~/.pypirc`` passwords; passwords in index URLs of pip's config files;
- GitHub CLI ``hosts.yml`` and hub's config: ``oauth_token``;
- Kubernetes: ``$KUBECONFIG`` (a path list) or ``~/.kube/config``: tokens, passwords, client
  keys (also decoded), auth-provider secrets;
- Google Cloud: application default credentials and the file ``$GOOGLE_APPLICATION_CREDENTIALS``
  names: ``client_secret``, ``refresh_token``, ``private_key``;
- Cargo, RubyGems and Terraform tokens.

YAML files are parsed (PyYAML's safe composer: block scalars such as ``token: >-``, quoted and
flow-mapping values are read as YAML reads them); one that will not parse is read by simple
line rules (``key: value``) instead. A missing, unreadable or malformed file gives nothing:
this runs before every session and must never fail it.
"""

from __future__ import annotations

import base64
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from glasscoder.guard.redact import KnownSecret
from glasscoder.guard.secret_rules import is_placeholder
from glasscoder.nesting import MAX_DEPTH, loads_bounded

MAX_FILE_BYTES = 1024 * 1024
_INI_LINE = re.compile(r"^\s*([^=:\s\[][^=:]*?)\s*[=:]\s*(.*?)\s*$")
_NPMRC_LINE = re.compile(r"^\s*([^=#;\s][^=]*?)\s*=\s*(.*?)\s*$")
_YAML_LINE = re.compile(r"""^\s*(?:-\s+)?["']?([\w.-]+)["']?\s*:\s+(\S.*?)\s*$""")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


@dataclass(frozen=True)
class Places:
    """Where the stores are: the environment's overrides, the home and the workspace."""

    env: Mapping[str, str]
    home: Path
    workspace: Path

    def path(self, variable: str, default: Path) -> Path:
        value = self.env.get(variable)
        if not value:
            return default
        return self.home / value[2:] if value.startswith("~/") else Path(value)

    @property
    def config(self) -> Path:
        return self.path("XDG_CONFIG_HOME", self.home / ".config")

    def shown(self, path: Path) -> str:
        """The path as a message names it: from ~ or the workspace when beneath them."""
        for base, prefix in ((self.workspace, ""), (self.home, "~/")):
            try:
                return prefix + path.relative_to(base).as_posix()
            except ValueError:
                continue
        return str(path)


def credential_file_secrets(
    env: Mapping[str, str], home: Path, workspace: Path
) -> Iterator[KnownSecret]:
    places = Places(env, home, workspace)
    for reader in _READERS:
        yield from reader(places)


# Shared helpers (also used by known_secrets.py for .env files, ~/.netrc and git stores).


def read_small(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def unquote_value(value: str) -> str:
    if value[:1] in ("'", '"'):  # a quoted value ends at its closing quote
        end = value.find(value[0], 1)
        if end > 0:
            return value[1:end]
    return re.sub(r"\s+#.*$", "", value)  # an unquoted value ends at an inline comment


def url_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return unquote(password) if password else None


def basic_auth(login: str, password: str, kind: str, source: str) -> Iterator[KnownSecret]:
    yield KnownSecret(password, kind, source)
    if login:
        pair = base64.b64encode(f"{login}:{password}".encode()).decode()
        yield KnownSecret(pair, kind, f"{source} (as HTTP Basic auth)")


# Formats.


def _b64_text(value: str) -> str | None:
    try:
        padded = value + "=" * (-len(value) % 4)
        return base64.b64decode(padded, validate=True).decode("utf-8")
    except ValueError:  # bad base64 (binascii.Error) or not UTF-8 (UnicodeDecodeError)
        return None


def _secret(value: str, kind: str, source: str) -> Iterator[KnownSecret]:
    if value and not is_placeholder(value):
        yield KnownSecret(value, kind, source)


def _ini_values(text: str) -> Iterator[tuple[str, str, str]]:
    """(section, lower-cased key, value) for each ``key = value`` or ``key: value`` line."""
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif match := _INI_LINE.match(line):
            yield section, match.group(1).lower(), unquote_value(match.group(2))


def _yaml_values(text: str, keys: frozenset[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, key, value) for the wanted keys' scalar values, at any depth; the line
    rules below when the text is not YAML that parses."""
    try:
        found: list[tuple[int, str, str]] | None = _parsed_yaml_values(text, keys)
    except Exception:  # PyYAML's errors (a file it cannot read), RecursionError (too deep)
        found = None
    if found is not None:
        yield from found
        return
    yield from _yaml_line_values(text, keys)


def _parsed_yaml_values(text: str, keys: frozenset[str]) -> list[tuple[int, str, str]]:
    """Walk the composed node graph (aliases are visited once: an alias bomb costs nothing)."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                wanted = isinstance(key, yaml.ScalarNode) and key.value in keys
                if wanted and isinstance(value, yaml.ScalarNode):
                    found.append((value.start_mark.line + 1, key.value, value.value.strip()))
                else:
                    stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(found)


def _yaml_line_values(text: str, keys: frozenset[str]) -> Iterator[tuple[int, str, str]]:
    """The fallback: one-line `key: value` scalars, at any depth."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _YAML_LINE.match(line)
        if match and match.group(1) in keys:
            yield number, match.group(1), unquote_value(match.group(2))


def _load_json(path: Path) -> Any:
    text = read_small(path)
    try:
        return None if text is None else loads_bounded(text, MAX_DEPTH)  # walked recursively
    except ValueError:
        return None


def _strings_under(data: Any, keys: frozenset[str], where: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, value) for each string held under one of the keys, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{where}.{key}" if where else str(key)
            if key in keys and isinstance(value, str):
                yield path, value
            else:
                yield from _strings_under(value, keys, path)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _strings_under(item, keys, f"{where}[{index}]")


def _json_secrets(data: Any, keys: frozenset[str], kind: str, shown: str) -> Iterator[KnownSecret]:
    try:
        found = list(_strings_under(data, keys))
    except RecursionError:  # nested deeper than the walk can go: skipped like any bad file
        return
    for where, value in found:
        yield from _secret(value, kind, f"{shown} {where}")


def _yaml_store(path: Path, keys: frozenset[str], kind: str, p: Places) -> Iterator[KnownSecret]:
    text = read_small(path)
    for number, key, value in _yaml_values(text or "", keys):
        yield from _secret(value, kind, f"{p.shown(path)} line {number} {key}")


# Stores.

_AWS_KEYS = frozenset(
    {"aws_secret_access_key", "aws_session_token", "aws_security_token", "aws_access_key_id"}
)


def _aws(p: Places) -> Iterator[KnownSecret]:
    for variable, name in (
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ("AWS_CONFIG_FILE", "config"),
    ):
        path = p.path(variable, p.home / ".aws" / name)
        for section, key, value in _ini_values(read_small(path) or ""):
            if key in _AWS_KEYS:
                yield from _secret(value, "aws-credentials", f"{p.shown(path)} [{section}] {key}")


def _docker(p: Places) -> Iterator[KnownSecret]:
    path = p.path("DOCKER_CONFIG", p.home / ".docker") / "config.json"
    data = _load_json(path)
    tokens = frozenset({"identitytoken", "registrytoken"})
    yield from _json_secrets(data, tokens, "docker-auth", p.shown(path))
    auths = data.get("auths") if isinstance(data, dict) else None
    for host, entry in auths.items() if isinstance(auths, dict) else ():
        auth = entry.get("auth") if isinstance(entry, dict) else None
        if not isinstance(auth, str) or ":" not in (pair := _b64_text(auth) or ""):
            continue
        source = f"{p.shown(path)} auths.{host}.auth"
        yield from _secret(auth, "docker-auth", source)
        yield from _secret(pair.split(":", 1)[1], "docker-auth", f"{source} (password)")


def _npmrc(p: Places) -> Iterator[KnownSecret]:
    user = p.path("NPM_CONFIG_USERCONFIG", p.home / ".npmrc")
    for path in (user, p.workspace / ".npmrc"):
        for line in (read_small(path) or "").splitlines():
            match = _NPMRC_LINE.match(line)
            key = match.group(1).rsplit(":", 1)[-1] if match else ""
            if key not in ("_authToken", "_auth", "_password"):
                continue
            value, source = unquote_value(match.group(2)), f"{p.shown(path)} {match.group(1)}"
            yield from _secret(value, "npm-token", source)
            decoded = _b64_text(value) if key != "_authToken" else None
            if decoded:  # _auth is base64 of login:password, _password base64 of the password
                plain = decoded.split(":", 1)[-1]
                yield from _secret(plain, "npm-token", f"{source} (decoded)")


def _python(p: Places) -> Iterator[KnownSecret]:
    pypirc = p.path("PYPIRC", p.home / ".pypirc")
    for section, key, value in _ini_values(read_small(pypirc) or ""):
        if key == "password":
            yield from _secret(value, "pypi-password", f"{p.shown(pypirc)} [{section}] password")
    pip_files = [p.config / "pip" / "pip.conf", p.home / ".pip" / "pip.conf"]
    if p.env.get("PIP_CONFIG_FILE"):
        pip_files.append(p.path("PIP_CONFIG_FILE", p.home))
    for path in pip_files:
        for number, line in enumerate((read_small(path) or "").splitlines(), start=1):
            for url in _URL.findall(line):
                password = url_password(url)
                if password:
                    yield from _secret(
                        password, "pip-index-password", f"{p.shown(path)} line {number}"
                    )


def _github(p: Places) -> Iterator[KnownSecret]:
    gh = p.path("GH_CONFIG_DIR", p.config / "gh") / "hosts.yml"
    yield from _yaml_store(gh, frozenset({"oauth_token"}), "gh-token", p)
    hub = p.path("HUB_CONFIG", p.config / "hub")
    yield from _yaml_store(hub, frozenset({"oauth_token"}), "hub-token", p)


_KUBE_KEYS = frozenset(
    {"token", "client-key-data", "password", "client-secret", "refresh-token", "id-token",
     "access-token"}
)  # fmt: skip


def _kube(p: Places) -> Iterator[KnownSecret]:
    listed = [Path(entry) for entry in p.env.get("KUBECONFIG", "").split(os.pathsep) if entry]
    for path in listed or [p.home / ".kube" / "config"]:
        for number, key, value in _yaml_values(read_small(path) or "", _KUBE_KEYS):
            source = f"{p.shown(path)} line {number} {key}"
            yield from _secret(value, "kube-credential", source)
            pem = _b64_text(value) if key == "client-key-data" else None
            if pem:  # what `base64 -d` of the field shows
                yield from _secret(pem, "kube-credential", f"{source} (decoded)")


_GCLOUD_KEYS = frozenset({"client_secret", "refresh_token", "private_key"})


def _gcloud(p: Places) -> Iterator[KnownSecret]:
    folder = p.path("CLOUDSDK_CONFIG", p.config / "gcloud")
    paths = [folder / "application_default_credentials.json"]
    paths += sorted((folder / "legacy_credentials").glob("*/adc.json"))
    if p.env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        paths.append(p.path("GOOGLE_APPLICATION_CREDENTIALS", folder))
    for path in paths:
        yield from _json_secrets(_load_json(path), _GCLOUD_KEYS, "gcloud-credential", p.shown(path))


_CARGO_KEYS = frozenset({"token", "secret-key"})


def _cargo(p: Places) -> Iterator[KnownSecret]:
    folder = p.path("CARGO_HOME", p.home / ".cargo")
    for path in (folder / "credentials.toml", folder / "credentials"):
        try:
            data = tomllib.loads(read_small(path) or "")
        except ValueError:
            continue
        yield from _json_secrets(data, _CARGO_KEYS, "cargo-token", p.shown(path))


def _gem(p: Places) -> Iterator[KnownSecret]:
    path = p.home / ".gem" / "credentials"
    for number, line in enumerate((read_small(path) or "").splitlines(), start=1):
        key, sep, rest = line.partition(": ")
        if not sep or line.lstrip().startswith("#"):
            continue
        value, source = unquote_value(rest.strip()), f"{p.shown(path)} line {number} {key.strip()}"
        yield from _secret(value, "gem-credential", source)
        if " " in value:  # "Bearer <token>": the token alone too
            yield from _secret(value.rsplit(" ", 1)[1], "gem-credential", source)


def _terraform(p: Places) -> Iterator[KnownSecret]:
    path = p.home / ".terraform.d" / "credentials.tfrc.json"
    yield from _json_secrets(
        _load_json(path), frozenset({"token"}), "terraform-token", p.shown(path)
    )


_READERS: tuple[Callable[[Places], Iterator[KnownSecret]], ...] = (
    _aws, _docker, _npmrc, _python, _github, _kube, _gcloud, _cargo, _gem, _terraform
)  # fmt: skip
