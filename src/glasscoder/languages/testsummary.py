"""A test run's output cut down to what a model needs: counts, failing tests, first lines.

A local model's context is small; a failing suite can print megabytes. Each format keeps the
counts, the names of the failing tests and, per failure, the first few lines that say what
went wrong. Output no reader understands is shown as head and tail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_FAILURES = 10  # failing tests shown with details
DETAIL_LINES = 6  # lines kept per failure
HEAD, TAIL = 15, 30  # lines kept by the generic fallback


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)  # "passed": 3, "failed": 1
    failures: list[tuple[str, list[str]]] = field(default_factory=list)  # name, detail lines

    def empty(self) -> bool:
        return not self.counts and not self.failures


def summarise(fmt: str, output: str, exit_code: int | None) -> str:
    """The compact report: one status line, then failing tests with their first lines."""
    reader = READERS.get(fmt)
    summary = reader(output) if reader else Summary()
    passed = exit_code == 0
    status = "PASSED" if passed else ("TIMED OUT" if exit_code is None else "FAILED")
    shown = {k: n for k, n in summary.counts.items() if n or k in ("passed", "failed")}
    counts = ", ".join(f"{n} {k}" for k, n in shown.items())
    head = f"{status}" + (f": {counts}" if counts else "") + f" (exit code {exit_code})"
    if summary.empty() and not passed:
        return f"{head}\n{head_tail(output)}"
    lines = [head]
    for name, detail in summary.failures[:MAX_FAILURES]:
        lines.append(f"FAIL {name}")
        lines += [f"    {d}" for d in detail[:DETAIL_LINES]]
    if len(summary.failures) > MAX_FAILURES:
        lines.append(f"... and {len(summary.failures) - MAX_FAILURES} more failing tests")
    return "\n".join(lines)


def head_tail(output: str) -> str:
    lines = output.rstrip("\n").splitlines()
    if len(lines) <= HEAD + TAIL:
        return "\n".join(lines)
    cut = len(lines) - HEAD - TAIL
    return "\n".join([*lines[:HEAD], f"... ({cut} lines not shown)", *lines[-TAIL:]])


def _count(summary: Summary, pattern: str, text: str, names: dict[str, str] | None = None) -> None:
    """Add `N word` matches of pattern (groups: number, word) into summary.counts."""
    for number, word in re.findall(pattern, text):
        word = (names or {}).get(word.lower(), word.lower())
        summary.counts[word] = summary.counts.get(word, 0) + int(number)


def _useful(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.strip()][:DETAIL_LINES]


# --- pytest -----------------------------------------------------------------------------------

_PYTEST_TOTAL = re.compile(r"^=*\s*(?:\d+ \w+(?:, )?)+.* in [\d.]+s.*$", re.MULTILINE)
_PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.MULTILINE)


def pytest(output: str) -> Summary:
    s = Summary()
    totals = _PYTEST_TOTAL.findall(output)
    if totals:
        _count(s, r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", totals[-1],
               {"error": "errors"})  # fmt: skip
    details = _pytest_sections(output)
    for line in output.splitlines():
        m = re.match(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", line)
        if m:
            name = m[2]
            short = name.rsplit("::", 1)[-1]
            detail = details.get(short) or details.get(name) or ([m[3]] if m[3] else [])
            s.failures.append((name, detail))
    return s


def _pytest_sections(output: str) -> dict[str, list[str]]:
    """Test name -> the E lines and location of its traceback section."""
    found: dict[str, list[str]] = {}
    marks = list(_PYTEST_SECTION.finditer(output))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(output)
        body = output[m.end() : end].splitlines()
        errors = [line[1:].strip() for line in body if line.startswith("E ")]
        where = [line for line in body if re.match(r"^\S+:\d+: ", line)]
        found[_section_key(m[1])] = _useful(errors + where[-1:])
    return found


def _section_key(title: str) -> str:
    """A section title as the last part of a test id: "TestX.test_y" -> "test_y"."""
    title = re.sub(r"^ERROR (?:at \w+ of|collecting) ", "", title)
    if title.endswith(".py"):  # a collection error: the summary names the file
        return title
    head, bracket, params = title.partition("[")  # parameters may hold dots: "test_x[1.5]"
    return head.rsplit(".", 1)[-1] + bracket + params


# --- node --test (TAP or spec reporter), jest, vitest ---------------------------------------


def node_test(output: str) -> Summary:
    s = Summary()
    for word, number in re.findall(r"^(?:#|ℹ) (pass|fail|skipped|cancelled) (\d+)\s*$", output,
                                   re.MULTILINE):  # fmt: skip
        key = {"pass": "passed", "fail": "failed"}.get(word, word)
        s.counts[key] = s.counts.get(key, 0) + int(number)
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*not ok \d+ - (.+?)\s*$", line)
        if m:
            s.failures.append((m[1], _tap_detail(lines[i + 1 : i + 40])))
    if not s.failures:  # spec reporter: "✖ name (1.2ms)" under "✖ failing tests:"
        tail = output.split("failing tests:", 1)[-1] if "failing tests:" in output else ""
        for m in re.finditer(r"^\s*✖ (.+?) \([\d.]+m?s\)\s*$", tail, re.MULTILINE):
            s.failures.append((m[1], []))
    return s


_TAP_KEYS = ("error", "message", "location", "expected", "actual")


def _tap_detail(block: list[str]) -> list[str]:
    """The YAML diagnostics under a TAP 'not ok': error text (block scalars too), location."""
    keep: list[str] = []
    key_indent = -1  # indentation of the key whose multi-line value is being read
    for line in block:
        text = line.strip()
        if text.startswith(("ok ", "not ok ", "# Subtest")) or text == "...":
            break
        indent = len(line) - len(line.lstrip())
        if key_indent >= 0 and indent > key_indent:
            keep += [text] if text else []
            continue
        key_indent = -1
        key, _, value = text.partition(":")
        if key in _TAP_KEYS:
            if value.strip() in ("|", "|-", ">", ">-"):
                key_indent = indent
            else:
                keep.append(text)
    return _useful(keep)


def jest(output: str) -> Summary:
    s = Summary()
    m = re.search(r"^Tests:\s+(.*)$", output, re.MULTILINE)  # jest
    v = re.search(r"^\s*Tests\s+(.*)$", output, re.MULTILINE)  # vitest
    if m or v:
        _count(s, r"(\d+) (passed|failed|skipped|todo)", (m or v)[1])  # type: ignore[index]
    lines = output.splitlines()
    for i, line in enumerate(lines):
        name = re.match(r"^\s*● (.+?)\s*$", line) or re.match(r"^\s*FAIL\s+(.+? > .+?)$", line)
        if name and "Test suite failed" not in line:
            s.failures.append((name[1], _useful(lines[i + 1 : i + 12])))
    return s


# --- cargo, go --------------------------------------------------------------------------------


def cargo_test(output: str) -> Summary:
    s = Summary()
    for line in re.findall(r"^test result: .*$", output, re.MULTILINE):
        _count(s, r"(\d+) (passed|failed|ignored)", line)
    sections = re.split(r"^---- (\S+) stdout ----$", output, flags=re.MULTILINE)
    details = {sections[i]: sections[i + 1] for i in range(1, len(sections) - 1, 2)}
    # "test x ... FAILED" (default) or "x --- FAILED" (-q); the "failures:" list has them all.
    names = re.findall(r"^(?:test (\S+) \.\.\. FAILED|(\S+) --- FAILED)$", output, re.MULTILINE)
    ordered = [a or b for a, b in names]
    for block in re.findall(r"^failures:\n((?:    \S+\n)+)", output, re.MULTILINE):
        ordered += [n.strip() for n in block.splitlines() if n.strip() not in ordered]
    for name in ordered:
        body = re.split(r"^(?:stack backtrace:|note: |failures:)", details.get(name, ""),
                        maxsplit=1, flags=re.MULTILINE)[0]  # fmt: skip
        s.failures.append((name, _useful(body.splitlines())))
    return s


def go_test(output: str) -> Summary:
    s = Summary()
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*--- FAIL: (\S+)", line)
        if m:
            detail = []
            for follow in lines[i + 1 :]:
                if not follow.startswith("        ") and not follow.startswith("    "):
                    break
                detail.append(follow.strip())
            s.failures.append((m[1], _useful(detail)))
    passed = len(re.findall(r"^\s*--- PASS: ", output, re.MULTILINE))
    if passed:
        s.counts["passed"] = passed
    if s.failures:
        s.counts["failed"] = len(s.failures)
    return s


# --- JVM (Maven surefire, Gradle), ctest ------------------------------------------------------


def surefire(output: str) -> Summary:
    s = Summary()
    runs = re.findall(r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)", output)
    if runs:
        total, failures, errors, skipped = (int(x) for x in runs[-1])
        s.counts = {"passed": total - failures - errors - skipped, "failed": failures,
                    "errors": errors, "skipped": skipped}  # fmt: skip
    gradle = re.search(r"^(\d+) tests? completed, (\d+) failed", output, re.MULTILINE)
    if gradle:
        s.counts = {"passed": int(gradle[1]) - int(gradle[2]), "failed": int(gradle[2])}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        # The Results list, indented: "[ERROR]   CalcTest.testAdd:12 expected: <5> ..."
        mvn = re.match(r"^\[ERROR\] {2,}(\w[\w.$]*\.\w+(?::\d+)?)\s+(.*)$", line)
        grd = re.match(r"^(\S.* > .+?) FAILED$", line)
        if mvn and "Tests run" not in line:
            s.failures.append((mvn[1], _useful([mvn[2]])))
        elif grd:
            detail = [x for x in lines[i + 1 : i + 4] if x.startswith("    ")]
            s.failures.append((grd[1], _useful(detail)))
    return s


def ctest(output: str) -> Summary:
    s = Summary()
    m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", output)
    if m:
        s.counts = {"passed": int(m[3]) - int(m[2]), "failed": int(m[2])}
    block = output.split("The following tests FAILED:", 1)
    if len(block) == 2:
        for name in re.findall(r"^\s*\d+ - (\S+) \(", block[1], re.MULTILINE):
            s.failures.append((name, []))
    return s


READERS: dict[str, Callable[[str], Summary]] = {
    "pytest": pytest,
    "node-test": node_test,
    "jest": jest,
    "cargo-test": cargo_test,
    "go-test": go_test,
    "surefire": surefire,
    "ctest": ctest,
}
