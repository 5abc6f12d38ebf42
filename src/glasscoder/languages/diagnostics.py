"""One finding type for every analyzer, the parsers that produce it, and run_analyzers.

Parsers take a tool's combined output (stdout and stderr interleaved, which is all a sandbox
gives back), so JSON formats are located inside it rather than assumed to be the whole text.

Analyzers run through a Sandbox like any command: the programs and their configuration come
from the repository being checked (a `.venv/bin/ruff`, an `eslint.config.js`), so they are code
of unknown origin. Under the `none` backend only programs from outside the workspace are run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from glasscoder.languages import parsers
from glasscoder.languages.registry import (
    LANGUAGES,
    Command,
    Language,
    applies,
    detect,
    find_program,
    host_path,
    language_for,
    missing_note,
    project_files,
    with_own_scripts,
    workspace_program,
)
from glasscoder.sandbox.base import Limits, Result, Sandbox
from glasscoder.sandbox.env import minimal_env

CONFINING = frozenset({"bwrap", "landlock", "seatbelt"})  # sandbox/choose.py's real backends
BATCH = 200  # files per invocation: keeps argv well under the kernel's limit
WORKERS = 4
OUTPUT_CHARS = 4_000_000  # JSON reports must arrive whole to be parsed
# Variables toolchains need beyond sandbox.env's allow-list; named exactly (no CARGO_* prefix,
# which would also pass CARGO_REGISTRY_TOKEN).
TOOL_ENV = ("GOPATH", "GOROOT", "GOCACHE", "GOMODCACHE", "GOFLAGS", "CARGO_HOME", "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN", "JAVA_HOME", "DOTNET_ROOT", "NODE_PATH")  # fmt: skip


@dataclass(frozen=True)
class Diagnostic:
    file: str  # workspace-relative POSIX path
    line: int  # 1-based; 0 when the tool gives none
    column: int  # 1-based; 0 when none
    rule: str  # "F401", "no-unused-vars"; "" when none
    severity: str  # "error" | "warning" | "note"
    message: str
    tool: str

    def one_line(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        where += f":{self.column}" if self.line and self.column else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}: {self.severity}{rule}: {self.message} ({self.tool})"


def parse(parser: str, output: str, root: Path) -> list[Diagnostic]:
    """Diagnostics from one tool's output; unknown parser names read it as `generic`."""
    fn = parsers.PARSERS.get(parser, parsers.PARSERS["generic"])
    found = fn(output)
    tool = parser.split("-")[0]
    seen: set[Diagnostic] = set()
    result = []
    for raw in found:
        d = Diagnostic(
            file=relative(raw.file, root),
            line=max(raw.line, 0),
            column=max(raw.column, 0),
            rule=raw.rule,
            severity=raw.severity,
            message=" ".join(raw.message.split()),
            tool=raw.tool or tool,
        )
        if d not in seen:  # msbuild and php print the same problem twice
            seen.add(d)
            result.append(d)
    return result


def relative(path: str, root: Path) -> str:
    """A tool's path as workspace-relative POSIX; paths outside the root are kept as given."""
    path = path.strip().removeprefix("file://")
    if not path:
        return ""
    candidate = Path(path)
    if candidate.is_absolute():
        for base in (root, root.resolve()):
            try:
                return candidate.relative_to(base).as_posix()
            except ValueError:
                continue
        return path
    return Path(path).as_posix().removeprefix("./")


@dataclass(frozen=True)
class Job:
    command: Command
    language: str
    files: tuple[str, ...]  # empty for whole-project commands
    program: str  # the executable find_program chose


def confines(sandbox: Sandbox) -> bool:
    """Whether commands run through sandbox are confined. Named backends only: anything else
    (`none`, a wrapper this module does not know) counts as the host."""
    return sandbox.name in CONFINING


def plan(
    root: Path, files: list[str] | None, purposes: Iterable[str], *, confined: bool
) -> tuple[list[Job], list[str]]:
    """The invocations to make and the notes about missing or skipped tools, nothing run yet."""
    wanted = set(purposes)
    listed = project_files(root) if files is None else list(files)
    langs = detect(root, listed) if files is None else _languages_of(listed)
    jobs: list[Job] = []
    notes: list[str] = []
    done: set[Command] = set()
    for lang in langs:
        for cmd in lang.commands:
            if cmd.purpose not in wanted or cmd in done or not applies(cmd, root):
                continue
            done.add(cmd)  # one command shared by languages (semgrep) runs once, on all files
            program = find_program(cmd, root, confined=confined)
            own = None if confined else workspace_program(cmd, root)
            if own is not None:
                notes.append(skipped_note(cmd, own, root, program))
            elif program is None:
                notes.append(missing_note(cmd, lang.name))
            if program is not None:
                jobs += _batches(cmd, lang, program, _files_for(cmd, langs, listed))
    return jobs, notes


def skipped_note(cmd: Command, own: str, root: Path, instead: str | None) -> str:
    """Why the workspace's copy of a tool was not run, and what ran (if anything) instead."""
    where = relative(own, root)
    what = f"{cmd.program} from PATH ran instead" if instead else f"{cmd.name} did not run"
    return (f"{where} not run: analyzers are unsandboxed (--sandbox none), so no program from "
            f"inside the workspace is used; {what}")  # fmt: skip


def _languages_of(files: list[str]) -> list[Language]:
    names = {lang.name for f in files if (lang := language_for(f))}
    return [lang for lang in LANGUAGES if lang.name in names]


def _files_for(cmd: Command, langs: list[Language], files: list[str]) -> list[str]:
    users = {lang.name for lang in langs if cmd in lang.commands}
    return [f for f in files if (lang := language_for(f)) and lang.name in users]


def _batches(cmd: Command, lang: Language, program: str, files: list[str]) -> list[Job]:
    if not cmd.per_file:
        return [Job(cmd, lang.name, (), program)]
    return [
        Job(cmd, lang.name, tuple(files[i : i + BATCH]), program)
        for i in range(0, len(files), BATCH)
    ]


def expand(job: Job, root: Path, program: str, tmp: str) -> list[str]:
    """The job's argv: its program resolved, {files} spread, {root} and {tmp} filled in."""
    argv = [program]
    for word in job.command.argv[1:]:
        if word == "{files}":
            argv += list(job.files)
        else:
            argv.append(word.replace("{root}", str(root)).replace("{tmp}", tmp))
    return argv


@dataclass
class Analysis:
    diagnostics: list[Diagnostic]
    notes: list[str]  # missing tools, workspace copies not run, and the failures below
    failed: list[str]  # one line per analyzer that did not give a result: the run is incomplete


def run_analyzers(
    root: Path,
    files: list[str] | None,
    sandbox: Sandbox,
    purposes: Iterable[str] = ("lint", "analyze"),
    timeout: float = 120,
) -> tuple[list[Diagnostic], list[str]]:
    """``analyze``'s diagnostics and notes."""
    done = analyze(root, files, sandbox, purposes, timeout)
    return done.diagnostics, done.notes


def analyze(
    root: Path,
    files: list[str] | None,
    sandbox: Sandbox,
    purposes: Iterable[str] = ("lint", "analyze"),
    timeout: float = 120,
) -> Analysis:
    """Run every available analyzer for the languages present, in parallel, through sandbox.

    Gives the diagnostics (only for `files` when given); notes: missing tools with how to get
    them, workspace copies not run (unsandboxed); and the analyzers that could not start, timed
    out or failed without a finding, which also go in `failed`.
    """
    confined = confines(sandbox)
    jobs, notes = plan(root, files, purposes, confined=confined)
    env = minimal_env(TOOL_ENV)
    if not confined:  # a child's own lookups (`#!/usr/bin/env node`) stay out of the workspace
        env["PATH"] = host_path(root, env.get("PATH"))
    env["PATH"] = with_own_scripts(env.get("PATH", ""), root, confined=confined)
    run = _runner(sandbox, env)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(lambda job: _run_job(job, root, timeout, run), jobs))
    diagnostics: list[Diagnostic] = []
    failed: list[str] = []
    wanted = set(files) if files is not None else None
    for found, note in outcomes:
        diagnostics += [d for d in found if wanted is None or d.file in wanted]
        if note and note not in notes:
            notes.append(note)
            failed.append(note)
    diagnostics.sort(key=lambda d: (d.file, d.line, d.column, d.tool, d.rule))
    return Analysis(diagnostics, notes, failed)


# run(argv, cwd, timeout) -> the sandbox's Result
_Run = Callable[[list[str], Path, float], Result]


def _runner(sandbox: Sandbox, env: dict[str, str]) -> _Run:
    def run(argv: list[str], cwd: Path, timeout: float) -> Result:
        limits = Limits(timeout=timeout, output_chars=OUTPUT_CHARS)
        return sandbox.run(argv, cwd, dict(env), limits)

    return run


def _run_job(job: Job, root: Path, timeout: float, run: _Run) -> tuple[list[Diagnostic], str]:
    cmd = job.command
    tmp = tempfile.mkdtemp(prefix="glasscoder-")
    try:
        out = run(expand(job, root, job.program, tmp), root, timeout)
    except OSError as e:
        return [], f"{cmd.name} could not start: {e.strerror or e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if out.timed_out:
        return [], f"{cmd.name} timed out after {timeout:g} s"
    found = [_as_tool(d, cmd.name) for d in parse(cmd.parser, out.output, root)]
    if not found and out.exit_code not in (0, None):
        return [], f"{cmd.name} failed (exit {out.exit_code}): {_first_line(out.output)}"
    return found, ""


_MISSING_FOLDER = "could not run in the sandbox: it needs"  # sandbox/toolchains.py's line


def _as_tool(d: Diagnostic, tool: str) -> Diagnostic:
    return Diagnostic(d.file, d.line, d.column, d.rule, d.severity, d.message, tool)


def _first_line(text: str) -> str:
    """The line saying why: the sandbox's own about a folder it did not show, else the first."""
    lines = text.splitlines()
    for line in lines:
        if _MISSING_FOLDER in line:
            return line.removeprefix("glasscoder: ").strip()[:300]
    for line in lines:
        if line.strip():
            return line.strip()[:200]
    return "(no output)"
