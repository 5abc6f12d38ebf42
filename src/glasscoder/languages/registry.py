"""The languages glasscoder knows, as data: how to recognise each, and its tools.

Only data and detection live here. Running the tools is `languages.diagnostics` (analyzers) and
`tools.tests` (tests); choosing a project's test command is `languages.project`.

Argument templates: ``{files}`` becomes the files to check (one argument each), ``{root}`` the
workspace root and ``{tmp}`` a scratch folder that is removed afterwards (javac must write
its class files somewhere).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from glasscoder.sandbox import hostpaths

PURPOSES = ("test", "lint", "format", "build", "analyze")
# Folders that hold dependencies, build output or tool state, never the project's own code.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "target", "build", "dist", "out", "bin", "obj",
     "vendor", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".ruff_cache",
     ".pytest_cache", ".gradle", ".idea", ".build", "Pods", ".glasscoder"}
)  # fmt: skip
MAX_WALK = 20_000  # files looked at by detect(); a huge tree is sampled, not read whole
# Where a project keeps its own copies of tools; looked at before PATH.
LOCAL_BIN_DIRS = (".venv/bin", "venv/bin", "node_modules/.bin", "vendor/bin")


@dataclass(frozen=True)
class Command:
    name: str  # "ruff", "eslint", "pytest"
    argv: tuple[str, ...]  # template, see the module docstring
    purpose: str  # one of PURPOSES
    parser: str  # an output format known to languages.diagnostics.parse
    program: str  # the executable: see find_program
    install: str  # how to get it, shown when it is missing
    # Root-level file patterns of which one must exist for the command to make sense
    # (tsc needs tsconfig.json, cargo a Cargo.toml); empty: always applies.
    needs: tuple[str, ...] = ()

    @property
    def per_file(self) -> bool:
        """True when it checks just the files it is given (fast enough to run after an edit)."""
        return "{files}" in self.argv


@dataclass(frozen=True)
class Language:
    name: str
    extensions: tuple[str, ...]  # lower case, with the dot
    filenames: tuple[str, ...]  # whole file names that belong to the language
    manifests: tuple[str, ...]  # project files, glob patterns allowed ("*.csproj")
    commands: tuple[Command, ...]

    def tools(self, purpose: str) -> list[Command]:
        return [c for c in self.commands if c.purpose == purpose]


def _cmd(
    name: str, argv: str, purpose: str, parser: str, install: str, needs: tuple[str, ...] = ()
) -> Command:
    """A Command from a space-separated template; the program is its first word."""
    words = tuple(argv.split())
    return Command(name, words, purpose, parser, words[0], install, needs)


_PIP = "pip install {}  (or: pipx install {})"
_NPM = "npm install --save-dev {}"
_SEMGREP_RULES = (".semgrep.yml", ".semgrep.yaml")
# semgrep needs rules; without the project's own it would fetch them from the network.
SEMGREP = _cmd(
    "semgrep",
    "semgrep scan --json --quiet --metrics=off --disable-version-check --config {root}/.semgrep.yml"
    " {files}",
    "analyze", "semgrep-json", _PIP.format("semgrep", "semgrep"), _SEMGREP_RULES,
)  # fmt: skip
CPPCHECK = _cmd(
    "cppcheck",
    "cppcheck --quiet --enable=warning,style,performance,portability "
    "--template={file}:{line}:{column}:{severity}:{id}:{message} {files}",
    "analyze", "cppcheck", "apt install cppcheck  (or: brew install cppcheck)",
)  # fmt: skip
CLANG_TIDY = _cmd(
    "clang-tidy", "clang-tidy --quiet {files} --", "analyze", "gcc",
    "apt install clang-tidy  (or: brew install llvm)",
)  # fmt: skip
ESLINT = _cmd(
    "eslint", "eslint --format json {files}", "lint", "eslint-json", _NPM.format("eslint")
)
PRETTIER = _cmd(
    "prettier", "prettier --write {files}", "format", "generic", _NPM.format("prettier")
)
GRADLE_JVM = "install a JDK (apt install default-jdk) and Gradle, or use the project's ./gradlew"

PYTHON = Language(
    "python", (".py", ".pyi"), (), ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt"),
    (
        _cmd("pytest", "python -m pytest -q", "test", "pytest", _PIP.format("pytest", "pytest")),
        _cmd("ruff", "ruff check --output-format=json --no-fix {files}", "lint", "ruff-json",
             _PIP.format("ruff", "ruff")),
        _cmd("bandit", "bandit -q -f json {files}", "analyze", "bandit-json",
             _PIP.format("bandit", "bandit")),
        SEMGREP,
        _cmd("ruff-format", "ruff format {files}", "format", "generic",
             _PIP.format("ruff", "ruff")),
    ),
)  # fmt: skip
JAVASCRIPT = Language(
    "javascript", (".js", ".jsx", ".mjs", ".cjs"), (), ("package.json",),
    (
        _cmd("node-test", "node --test", "test", "node-test", "install Node.js 18 or newer"),
        ESLINT,
        SEMGREP,
        PRETTIER,
    ),
)  # fmt: skip
TYPESCRIPT = Language(
    "typescript", (".ts", ".tsx", ".mts", ".cts"), (), ("tsconfig.json",),
    (
        _cmd("npm-test", "npm test", "test", "generic", "install Node.js and npm",
             ("package.json",)),
        ESLINT,
        _cmd("tsc", "tsc --noEmit --pretty false -p {root}", "analyze", "tsc",
             _NPM.format("typescript"), ("tsconfig.json",)),
        SEMGREP,
        PRETTIER,
    ),
)  # fmt: skip
GO = Language(
    "go", (".go",), (), ("go.mod",),
    (
        _cmd("go-test", "go test ./...", "test", "go-test", "install Go: https://go.dev/dl/",
             ("go.mod",)),
        _cmd("go-vet", "go vet ./...", "analyze", "go-vet", "install Go: https://go.dev/dl/",
             ("go.mod",)),
        _cmd("staticcheck", "staticcheck ./...", "analyze", "generic",
             "go install honnef.co/go/tools/cmd/staticcheck@latest", ("go.mod",)),
        _cmd("gofmt", "gofmt -w {files}", "format", "generic", "install Go: https://go.dev/dl/"),
        _cmd("go-build", "go build ./...", "build", "gcc", "install Go: https://go.dev/dl/",
             ("go.mod",)),
    ),
)  # fmt: skip
_RUSTUP = "install Rust with rustup: https://rustup.rs"
RUST = Language(
    "rust", (".rs",), (), ("Cargo.toml",),
    (
        _cmd("cargo-test", "cargo test", "test", "cargo-test", _RUSTUP, ("Cargo.toml",)),
        _cmd("clippy", "cargo clippy --quiet --message-format=json", "analyze", "clippy-json",
             "rustup component add clippy", ("Cargo.toml",)),
        _cmd("cargo-fmt", "cargo fmt", "format", "generic", "rustup component add rustfmt",
             ("Cargo.toml",)),
        _cmd("cargo-build", "cargo build --quiet", "build", "gcc", _RUSTUP, ("Cargo.toml",)),
    ),
)  # fmt: skip
JAVA = Language(
    "java", (".java",), (), ("pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle"),
    (
        _cmd("mvn-test", "mvn -q test", "test", "surefire", "install Maven: apt install maven",
             ("pom.xml",)),
        _cmd("gradle-test", "gradle test", "test", "surefire", GRADLE_JVM,
             ("build.gradle", "build.gradle.kts")),
        _cmd("javac", "javac -Xlint:all -proc:none -d {tmp} {files}", "lint", "javac",
             "install a JDK: apt install default-jdk"),
        SEMGREP,
        _cmd("mvn-build", "mvn -q compile", "build", "javac", "install Maven: apt install maven",
             ("pom.xml",)),
    ),
)  # fmt: skip
KOTLIN = Language(
    "kotlin", (".kt", ".kts"), (), ("build.gradle.kts", "build.gradle", "settings.gradle.kts"),
    (
        _cmd("gradle-test", "gradle test", "test", "surefire", GRADLE_JVM,
             ("build.gradle", "build.gradle.kts")),
        _cmd("ktlint", "ktlint --reporter=plain {files}", "lint", "generic",
             "see https://pinterest.github.io/ktlint/ (brew install ktlint)"),
        _cmd("ktlint-format", "ktlint --format {files}", "format", "generic",
             "see https://pinterest.github.io/ktlint/ (brew install ktlint)"),
        _cmd("gradle-build", "gradle build -x test", "build", "generic", GRADLE_JVM,
             ("build.gradle", "build.gradle.kts")),
    ),
)  # fmt: skip
_C_TESTS = (
    _cmd("ctest", "ctest --test-dir build --output-on-failure", "test", "ctest",
         "apt install cmake", ("CMakeLists.txt",)),
    _cmd("make-test", "make test", "test", "generic", "apt install make", ("Makefile",)),
)  # fmt: skip
_C_BUILD = (
    _cmd("cmake-build", "cmake --build build", "build", "gcc", "apt install cmake",
         ("CMakeLists.txt",)),
    _cmd("make", "make", "build", "gcc", "apt install make", ("Makefile",)),
    _cmd("clang-format", "clang-format -i {files}", "format", "generic",
         "apt install clang-format"),
)  # fmt: skip
C = Language(
    "c", (".c", ".h"), (), ("CMakeLists.txt", "Makefile", "meson.build", "configure.ac"),
    (
        *_C_TESTS,
        _cmd("gcc", "gcc -fsyntax-only -Wall -Wextra {files}", "lint", "gcc",
             "apt install gcc  (or: xcode-select --install)"),
        CPPCHECK,
        CLANG_TIDY,
        *_C_BUILD,
    ),
)  # fmt: skip
CPP = Language(
    "cpp", (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx"), (),
    ("CMakeLists.txt", "Makefile", "meson.build", "conanfile.txt", "vcpkg.json"),
    (
        *_C_TESTS,
        _cmd("g++", "g++ -fsyntax-only -Wall -Wextra {files}", "lint", "gcc",
             "apt install g++  (or: xcode-select --install)"),
        CPPCHECK,
        CLANG_TIDY,
        *_C_BUILD,
    ),
)  # fmt: skip
_DOTNET = "install the .NET SDK: https://dot.net"
CSHARP = Language(
    "csharp", (".cs",), (), ("*.csproj", "*.sln", "*.slnx"),
    (
        _cmd("dotnet-test", "dotnet test --nologo", "test", "dotnet-test", _DOTNET,
             ("*.csproj", "*.sln", "*.slnx")),
        _cmd("dotnet-build", "dotnet build --nologo -v q", "analyze", "msbuild", _DOTNET,
             ("*.csproj", "*.sln", "*.slnx")),
        _cmd("dotnet-format", "dotnet format", "format", "generic", _DOTNET,
             ("*.csproj", "*.sln", "*.slnx")),
    ),
)  # fmt: skip
_GEM = "gem install {}"
RUBY = Language(
    "ruby", (".rb", ".rake", ".gemspec"), ("Gemfile", "Rakefile"), ("Gemfile", "*.gemspec"),
    (
        _cmd("rspec", "bundle exec rspec", "test", "rspec", _GEM.format("bundler rspec"),
             (".rspec", "spec")),
        _cmd("rake-test", "bundle exec rake test", "test", "generic", _GEM.format("bundler rake"),
             ("Rakefile",)),
        _cmd("ruby-syntax", "ruby -wc {files}", "lint", "generic", "install Ruby"),
        _cmd("rubocop", "rubocop --format json {files}", "analyze", "rubocop-json",
             _GEM.format("rubocop")),
        _cmd("rubocop-format", "rubocop -a {files}", "format", "generic", _GEM.format("rubocop")),
    ),
)  # fmt: skip
_COMPOSER = "composer require --dev {}"
PHP = Language(
    "php", (".php",), (), ("composer.json",),
    (
        _cmd("phpunit", "phpunit", "test", "phpunit", _COMPOSER.format("phpunit/phpunit")),
        _cmd("php-lint", "php -l {files}", "lint", "php-lint", "install PHP (apt install php-cli)"),
        _cmd("phpstan", "phpstan analyse --error-format=raw --no-progress {files}", "analyze",
             "generic", _COMPOSER.format("phpstan/phpstan")),
        _cmd("php-cs-fixer", "php-cs-fixer fix {files}", "format", "generic",
             _COMPOSER.format("friendsofphp/php-cs-fixer")),
    ),
)  # fmt: skip
_SWIFT = "install Swift: https://www.swift.org/install/"
SWIFT = Language(
    "swift", (".swift",), (), ("Package.swift",),
    (
        _cmd("swift-test", "swift test", "test", "generic", _SWIFT, ("Package.swift",)),
        _cmd("swiftlint", "swiftlint lint --quiet {files}", "lint", "gcc",
             "brew install swiftlint  (see https://github.com/realm/SwiftLint)"),
        _cmd("swift-format", "swift-format format -i {files}", "format", "generic", _SWIFT),
        _cmd("swift-build", "swift build", "build", "gcc", _SWIFT, ("Package.swift",)),
    ),
)  # fmt: skip
SHELL = Language(
    "shell", (".sh", ".bash", ".ksh"), (), (),
    (
        _cmd("shellcheck", "shellcheck -f gcc {files}", "lint", "gcc",
             "apt install shellcheck  (or: brew install shellcheck)"),
        _cmd("bash-syntax", "bash -n {files}", "lint", "generic", "install bash"),
        _cmd("shfmt", "shfmt -w {files}", "format", "generic",
             "go install mvdan.cc/sh/v3/cmd/shfmt@latest"),
    ),
)  # fmt: skip

LANGUAGES: tuple[Language, ...] = (
    PYTHON, JAVASCRIPT, TYPESCRIPT, GO, RUST, JAVA, KOTLIN, C, CPP, CSHARP, RUBY, PHP, SWIFT, SHELL,
)  # fmt: skip
_BY_NAME = {lang.name: lang for lang in LANGUAGES}


def by_name(name: str) -> Language | None:
    return _BY_NAME.get(name)


def language_for(path: str) -> Language | None:
    """The language of one file, by its name, then by its extension; None if unknown."""
    name = PurePosixPath(path.replace("\\", "/")).name
    for lang in LANGUAGES:
        if name in lang.filenames:
            return lang
    suffix = PurePosixPath(name).suffix.lower()
    if not suffix:
        return None
    for lang in LANGUAGES:
        if suffix in lang.extensions:
            return lang
    return None


def project_files(root: Path, limit: int = MAX_WALK) -> list[str]:
    """Workspace-relative POSIX paths of the project's own files, dependency folders skipped."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        base = Path(folder).relative_to(root).as_posix()
        for name in sorted(files):
            found.append(name if base == "." else f"{base}/{name}")
            if len(found) >= limit:
                return found
    return found


def detect(root: Path, files: list[str] | None = None) -> list[Language]:
    """Languages present: a source file of theirs, or a manifest only they use, at the root."""
    files = project_files(root) if files is None else files
    present = {lang.name for f in files if (lang := language_for(f))}
    top = [p.name for p in root.iterdir()] if root.is_dir() else []
    shared = _shared_manifests()
    for lang in LANGUAGES:
        own = [m for m in lang.manifests if m not in shared]
        if any(fnmatch.fnmatchcase(name, m) for name in top for m in own):
            present.add(lang.name)
    return [lang for lang in LANGUAGES if lang.name in present]


def _shared_manifests() -> set[str]:
    """Manifests several languages use (a Makefile, CMakeLists.txt): alone they prove nothing."""
    seen: dict[str, int] = {}
    for lang in LANGUAGES:
        for m in lang.manifests:
            seen[m] = seen.get(m, 0) + 1
    return {m for m, n in seen.items() if n > 1}


def applies(cmd: Command, root: Path) -> bool:
    """Whether the project has what the command needs (see Command.needs)."""
    if not cmd.needs:
        return True
    try:
        top = [p.name for p in root.iterdir()]
    except OSError:
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for name in top for pattern in cmd.needs)


def find_program(cmd: Command, root: Path, *, confined: bool) -> str | None:
    """The executable for cmd, None when missing.

    A program inside the workspace is the repository's code, as untrusted as the rest of it, so
    the project's own copy is preferred only when the command will run `confined` (in a
    sandbox). Unconfined, the search is PATH without its folders inside the workspace.
    """
    own = own_scripts()
    if confined:
        found = workspace_program(cmd, root) or shutil.which(cmd.program)
        return found or shutil.which(cmd.program, path=own)
    return hostpaths.find(cmd.program, root) or hostpaths.find(cmd.program, root, own)


def own_scripts() -> str:
    """The scripts folder of glasscoder's own environment: an extra may bring ruff and bandit
    there, and it is often not on PATH (pipx, a venv not activated)."""
    return sysconfig.get_path("scripts")


def with_own_scripts(path: str, root: Path, *, confined: bool) -> str:
    """PATH with glasscoder's own scripts folder last, so a program find_program found there
    runs (its `#!` interpreter; a sandbox shows the folder). Unconfined, not when the folder is
    inside the workspace, where a command could have written it."""
    own = own_scripts() if confined else hostpaths.trusted_path(root, own_scripts())
    entries = path.split(os.pathsep) if path else []
    return os.pathsep.join([*entries, own]) if own and own not in entries else path


def workspace_program(cmd: Command, root: Path) -> str | None:
    """The project's own copy of cmd's program (LOCAL_BIN_DIRS), or None."""
    for folder in LOCAL_BIN_DIRS:
        candidate = root / folder / cmd.program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def host_path(root: Path, path: str | None = None) -> str:
    """PATH (default: this process's) without the folders inside root, nor relative ones (which
    resolve against a working directory that may be the workspace)."""
    value = os.environ.get("PATH", os.defpath) if path is None else path
    base = root.resolve()
    kept = []
    for entry in value.split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        real = Path(os.path.realpath(entry))
        if real != base and base not in real.parents:
            kept.append(entry)
    return os.pathsep.join(kept)


def missing_note(cmd: Command, language: str) -> str:
    """One line telling the person which tool is missing and how to get it."""
    return f"{cmd.program} not found ({language} {cmd.purpose}: {cmd.name}); get it: {cmd.install}"
