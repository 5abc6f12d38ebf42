"""Which workspace paths are hidden from the model, and by which rule.

Sources, highest precedence first (the first source with a matching pattern decides, so a
``!negation`` in a higher source re-includes what a lower one ignores, as in ripgrep):

0. glasscoder's own configuration and session folders, when they lie inside the workspace,
1. the secret-file deny-list (``SECRET_FILES`` plus the ``deny`` setting): files that hold
   credentials never enter the model's context, whatever a repository's own rules say.
   It matches case-insensitively (``.ENV`` and ``ID_RSA`` are as secret as ``.env`` and
   ``id_rsa``, and some filesystems do not tell them apart); the other layers follow git,
2. ``extra_ignores`` from the glasscoder config,
3. ``.glasscoderignore`` files (root and nested),
4. ``.gitignore`` files (root and nested),
5. ``.git/info/exclude``.

Rule files may change while a session runs (the model edits ``.gitignore`` like any file).
New rules apply at once, but a path the rules hid when a file was first read stays hidden:
otherwise a model could empty ``.gitignore``, or add ``!secret`` to a nested one, and read
what it was meant never to see.

Within a nested source the deepest file with a match wins and its patterns are relative to
its own directory, as in git. When the workspace is a subdirectory of a git repository, the
repository's ``.gitignore`` files above the root (and its ``info/exclude``) apply too. Like
git, nothing inside an ignored directory can be re-included, and any ``.git`` path component
is always hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pathspec

GITIGNORE = ".gitignore"
GLASSCODERIGNORE = ".glasscoderignore"
GIT_EXCLUDE = ".git/info/exclude"
EXTRA_SOURCE = "the extra_ignores setting of the glasscoder config"
GIT_DIR_SOURCE = "git's internal .git directory"
OWN_SOURCE = "glasscoder's own configuration and sessions"
DENY_SOURCE = "the secret-file deny-list"
# Files that usually hold credentials. Example files are re-included: they document the
# variables, and the redactor still screens their content.
SECRET_FILES = (
    ".env*", "!.env.example", "!.env.sample", "!.env.template", "!.env.dist",
    "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "!*.pub",
    ".ssh/", ".aws/", ".gnupg/", ".docker/config.json", ".kube/config", "*.kdbx",
    "credentials*", ".netrc", ".pgpass", ".git-credentials", "*.p12", "*.pfx", "*.jks",
    "*.keystore", "secrets.y*ml", "terraform.tfstate*", ".npmrc", ".pypirc", "*.tfvars",
    "*.tfvars.json", ".vault-token", ".htpasswd", "service-account*.json",
)  # fmt: skip
BASELINE_NOTE = " as it was when this session started"

_SPEC_CACHE_SIZE = 256

# Reads a rule file (workspace-relative path); None when it is absent or unusable.
Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Hit:
    """Why a path is hidden: the rule file, the pattern, and the path it matched."""

    source: str  # "sub/.gitignore", EXTRA_SOURCE, GIT_DIR_SOURCE...
    pattern: str
    path: str  # the path itself or the ignored directory containing it


@dataclass(frozen=True)
class OuterFile:
    """A rule file above the workspace root, in the git repository that contains it."""

    source: str  # how messages name it, e.g. "../.gitignore"
    prefix: str  # the workspace root's path relative to the file's directory
    lines: tuple[str, ...]
    exclude: bool = False  # .git/info/exclude rather than a .gitignore


@dataclass(frozen=True)
class _RuleSet:
    source: str
    base: str  # directory the patterns are relative to, "" for the root
    spec: pathspec.GitIgnoreSpec
    prefix: str = ""  # for rule files above the root: the root's path below their directory
    fold: bool = False  # match case-insensitively (the spec was parsed from lowered patterns)

    def check(self, rel: str, is_dir: bool) -> tuple[bool, str] | None:
        """(ignored?, pattern) of the last matching pattern, None if no pattern matches."""
        sub = rel[len(self.base) + 1 :] if self.base else rel
        if self.fold:
            sub = sub.lower()
        if self.prefix:
            sub = f"{self.prefix}/{sub}"
        result = self.spec.check_file(sub + "/" if is_dir else sub)
        if result.include is None or result.index is None:
            return None
        pattern = self.spec.patterns[result.index]
        return result.include, str(getattr(pattern, "pattern", pattern))


def _parse(lines: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """A spec of the valid patterns; like git, a malformed line is skipped, not fatal."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(lines))
    except (ValueError, re.error):
        return pathspec.GitIgnoreSpec.from_lines([line for line in lines if _is_valid(line)])


def _is_valid(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True


class DenyList:
    """The deny layer on its own, for walks that judge paths by it alone (the sandbox's masks,
    the workspace's hard-link check). Pattern and path are both lowered before matching."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        lowered = [pattern.lower() for pattern in self.patterns]
        self.rule_set = _RuleSet(DENY_SOURCE, "", _parse(lowered), fold=True)
        self._names, self._paths = _quick_filters(lowered)

    def denies(self, rel: str, is_dir: bool) -> bool:
        """Whether the deny-list alone hides rel. A walk's job, it assumes that no ancestor
        of rel is denied (the walk does not enter a denied directory)."""
        # Checking each pattern in turn made a walk of a 10,000-file tree five times slower,
        # so two combined searches first rule out almost every path: most patterns only name
        # the last component, which is short.
        tail = "/" if is_dir else ""
        name = rel.rpartition("/")[2].lower() + tail
        if not self._names.match(name) and not self._paths.match(rel.lower() + tail):
            return False
        result = self.rule_set.check(rel, is_dir)
        return result is not None and result[0]

    def denies_name(self, name: str, is_dir: bool) -> bool:
        """Whether the name alone is denied, wherever it lies: when it is not, the path's
        folders are part of the match (a pattern like '.docker/config.json')."""
        return self.denies(name, is_dir)


_ANY_FOLDERS = "^(?:.+/)?"  # how pathspec's regexes begin for a pattern without a '/'


def _quick_filters(lines: Sequence[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """One regex for the non-negated patterns without an inner '/' (they match a last path
    component), one for the others (they match the whole path)."""
    names: list[str] = []
    paths: list[str] = []
    for line in lines:
        if line.startswith("!") or not _is_valid(line):
            continue
        for pattern in pathspec.GitIgnoreSpec.from_lines([line]).patterns:
            regex = getattr(pattern, "regex", None)
            if getattr(pattern, "include", None) is True and regex is not None:
                # Named groups repeat across patterns, which one regex cannot hold.
                text = re.sub(r"\(\?P<\w+>", "(?:", regex.pattern)
                if "/" in line.strip().rstrip("/"):
                    paths.append(f"(?:{text})")
                else:  # matched against a name alone: the any-folders prefix only backtracks
                    names.append(f"(?:{text.replace(_ANY_FOLDERS, '^', 1)})")
    return re.compile("|".join(names) or "(?!)"), re.compile("|".join(paths) or "(?!)")


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]  # "" for top-level entries


def _dirs_down_to(directory: str) -> list[str]:
    """ "" and every ancestor of directory, then directory itself ("a/b" -> "", "a", "a/b")."""
    if not directory:
        return [""]
    parts = directory.split("/")
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


class IgnoreRules:
    """Loads rule files through `read` and keeps parsed specs keyed by file content."""

    def __init__(
        self,
        read: Reader,
        extra_patterns: Sequence[str] = (),
        outer: Sequence[OuterFile] = (),
        own_patterns: Sequence[str] = (),
        deny_patterns: Sequence[str] = SECRET_FILES,
    ) -> None:
        self._read = read
        self.own = [_RuleSet(OWN_SOURCE, "", _parse(own_patterns))] if own_patterns else []
        self.deny_list = DenyList(deny_patterns)
        self.deny = [self.deny_list.rule_set] if deny_patterns else []
        self.extra = [_RuleSet(EXTRA_SOURCE, "", _parse(extra_patterns))] if extra_patterns else []
        # Files above the root change rarely and are outside our reach later: parse them once.
        outer_sets = [(f, _RuleSet(f.source, "", _parse(f.lines), f.prefix)) for f in outer]
        self.outer_gitignores = [rules for f, rules in outer_sets if not f.exclude]
        self.outer_excludes = [rules for f, rules in outer_sets if f.exclude]
        self._specs: dict[bytes, pathspec.GitIgnoreSpec] = {}
        self._first: dict[str, bytes | None] = {}  # each rule file as it was first read
        self.changed = False  # whether a rule file differs from its first reading

    def matcher(self) -> Matcher:
        """A view for a batch of checks: each rule file is read at most once per matcher."""
        return Matcher(self)

    def load(self, base: str, filename: str, baseline: bool = False) -> _RuleSet | None:
        """The rules of one file as it is now, or (baseline) as it was first read."""
        path = f"{base}/{filename}" if base else filename
        if baseline:
            if path not in self._first:
                self._first[path] = self._read(path)
            data = self._first[path]
        else:
            data = self._read(path)
            if self._first.setdefault(path, data) != data:
                self.changed = True
        if not data:
            return None
        spec = self._specs.get(data)
        if spec is None:
            if len(self._specs) >= _SPEC_CACHE_SIZE:
                self._specs.clear()
            # surrogateescape keeps non-UTF-8 names matching os.fsdecode()d paths.
            lines = data.decode("utf-8", "surrogateescape").splitlines()
            spec = self._specs[data] = _parse(lines)
        # GIT_EXCLUDE patterns are relative to the root, not to .git/info.
        source = path + BASELINE_NOTE if baseline else path
        return _RuleSet(source, "" if filename == GIT_EXCLUDE else base, spec)


class Matcher:
    def __init__(self, rules: IgnoreRules, baseline: bool = False) -> None:
        self._rules = rules
        self._baseline = baseline  # judge by the rule files as first read
        self._original: Matcher | None = None
        self._files: dict[tuple[str, str], _RuleSet | None] = {}
        self._dir_hits: dict[str, Hit | None] = {}
        self._layer_cache: dict[str, list[list[_RuleSet]]] = {}

    def hit(self, rel: str, is_dir: bool) -> Hit | None:
        """Why rel (normalised, relative, "." for the root) is hidden; None if visible.

        Hidden by the rules as they are now, or as they were first read (see the module
        docstring); the second check only runs once some rule file has changed.
        """
        found = self._current_hit(rel, is_dir)
        if found is None and not self._baseline and self._rules.changed:
            self._original = self._original or Matcher(self._rules, baseline=True)
            found = self._original._current_hit(rel, is_dir)
        return found

    def _current_hit(self, rel: str, is_dir: bool) -> Hit | None:
        if rel in (".", ""):
            return None
        parts = rel.split("/")
        if ".git" in parts:
            git_dir = "/".join(parts[: parts.index(".git") + 1])
            return Hit(GIT_DIR_SOURCE, "", git_dir)
        for i in range(1, len(parts)):
            ancestor_hit = self._dir_hit("/".join(parts[:i]))
            if ancestor_hit:
                return ancestor_hit
        return self._own_hit(rel, is_dir)

    def _dir_hit(self, directory: str) -> Hit | None:
        if directory not in self._dir_hits:
            self._dir_hits[directory] = self._own_hit(directory, True)
        return self._dir_hits[directory]

    def _own_hit(self, rel: str, is_dir: bool) -> Hit | None:
        """The decision of the rules alone, assuming every ancestor directory is visible."""
        for layer in self._layers(_parent(rel)):
            for rule_set in layer:
                result = rule_set.check(rel, is_dir)
                if result is not None:
                    ignored, pattern = result
                    return Hit(rule_set.source, pattern, rel) if ignored else None
        return None

    def _layers(self, directory: str) -> list[list[_RuleSet]]:
        if directory not in self._layer_cache:
            self._layer_cache[directory] = self._load_layers(directory)
        return self._layer_cache[directory]

    def _load_layers(self, directory: str) -> list[list[_RuleSet]]:
        """Rule sets in precedence order, grouped by source (see the module docstring)."""
        rules = self._rules
        deepest_first = list(reversed(_dirs_down_to(directory)))

        def nested(filename: str) -> list[_RuleSet]:
            loaded = (self._file(base, filename) for base in deepest_first)
            return [r for r in loaded if r is not None]

        exclude = self._file("", GIT_EXCLUDE)
        return [
            rules.own,
            rules.deny,
            rules.extra,
            nested(GLASSCODERIGNORE),
            nested(GITIGNORE) + rules.outer_gitignores,
            ([exclude] if exclude else []) + rules.outer_excludes,
        ]

    def _file(self, base: str, filename: str) -> _RuleSet | None:
        key = (base, filename)
        if key not in self._files:
            self._files[key] = self._rules.load(base, filename, self._baseline)
        return self._files[key]
