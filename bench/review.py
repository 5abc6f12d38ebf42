"""`glasscoder review` on buggy programs: does a finding point at the buggy line?

Each task's program is written into a scratch folder (one file per task), the review runs once
over the folder (the static layer; with --endpoint also the model layer, through the same
model client, redaction and audit log as `glasscoder review`), and a task counts as found when
a finding is on one of its buggy lines: the lines of the buggy program that differ from the
correct one (for a missing line, the lines either side of where it belongs).

    .venv/bin/python bench/review.py --quixbugs ../shared/bench/quixbugs/python.jsonl \\
        --humanevalfix ../shared/bench/humanevalfix/python.jsonl \\
        --humanevalfix ../shared/bench/humanevalfix/js.jsonl [--endpoint URL --model NAME]

The data stays where it is (paths are arguments). ruff and eslint are found on PATH (this
venv's bin folder is added); JavaScript files get a written eslint.config.js with the core
rules of eslint:recommended that need no plugin, since the tasks come with no config.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from glasscoder.review.finding import Finding
from glasscoder.review.runner import run_review
from glasscoder.workspace import Workspace

ESLINT_RULES = (
    "no-undef", "use-isnan", "no-dupe-keys", "no-unreachable",
    "no-self-compare", "no-self-assign", "no-cond-assign", "no-constant-condition",
    "valid-typeof", "no-dupe-else-if", "no-unsafe-negation", "no-loss-of-precision",
    "no-sparse-arrays", "no-func-assign", "no-const-assign", "no-compare-neg-zero",
)  # fmt: skip
JS_GLOBALS = ("console", "Math", "Number", "String", "Array", "Object", "Set", "Map", "JSON",
              "parseInt", "parseFloat", "isNaN", "Infinity", "Symbol", "BigInt")  # fmt: skip


@dataclass(frozen=True)
class Task:
    name: str  # also the file name's stem
    suffix: str  # ".py" | ".js"
    buggy: str
    correct: str

    @property
    def file(self) -> str:
        return self.name + self.suffix


def quixbugs(path: Path) -> list[Task]:
    tasks = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        tasks.append(Task(f"qb_{row['name']}", ".py", _code(row["buggy"], row["name"]),
                          _code(row["correct"], row["name"])))  # fmt: skip
    return tasks


def _code(text: str, name: str) -> str:
    """The program without QuixBugs' trailing docstring or the correct file's alternatives."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.strip() == '"""' or (line.startswith(f"def {name}(") and
                                     any(k.startswith(f"def {name}(") for k in kept)):  # fmt: skip
            break
        kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def humanevalfix(path: Path) -> list[Task]:
    suffix = ".js" if "js" in path.stem.lower() else ".py"
    tasks = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        name = "hef_" + row["task_id"].replace("/", "_").lower()
        tasks.append(Task(name, suffix, row["declaration"] + row["buggy_solution"],
                          row["declaration"] + row["canonical_solution"]))  # fmt: skip
    return tasks


def buggy_lines(task: Task) -> set[int]:
    old = [line.rstrip() for line in task.buggy.splitlines()]
    new = [line.rstrip() for line in task.correct.splitlines()]
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag == "insert":
            lines.update(n for n in (i1, i1 + 1) if 1 <= n <= len(old) and i1 < len(old))
        elif tag != "equal":
            lines.update(n + 1 for n in range(i1, i2))
    return {n for n in lines if old[n - 1].strip()}


def write_tasks(root: Path, tasks: list[Task]) -> None:
    for task in tasks:
        (root / task.file).write_text(task.buggy)
    if any(t.suffix == ".js" for t in tasks):
        rules = ", ".join(f'"{rule}": "error"' for rule in ESLINT_RULES)
        # A task's top-level function is its entry point, unused only because nothing calls it.
        rules += ', "no-unused-vars": ["error", {"vars": "local"}]'
        globals_ = ", ".join(f'"{g}": "readonly"' for g in JS_GLOBALS)
        (root / "eslint.config.js").write_text(
            f"export default [{{ files: ['**/*.js'], languageOptions: {{ sourceType: 'script', "
            f"globals: {{ {globals_} }} }}, rules: {{ {rules} }} }}];\n"
        )


def score(tasks: list[Task], findings: list[Finding], layer: str) -> dict[str, float | int]:
    mine = [f for f in findings if f.layer == layer or layer in f.also]
    by_file: dict[str, list[Finding]] = {}
    for f in mine:
        by_file.setdefault(f.file, []).append(f)
    hit = near = flagged = 0
    rules: Counter[str] = Counter()
    for task in tasks:
        lines, found = buggy_lines(task), by_file.get(task.file, [])
        flagged += bool(found)
        on_line = [f for f in found if f.line in lines]
        hit += bool(on_line)
        rules.update({f.rule_id if layer == "static" else f.category for f in on_line})
        near += any(abs(f.line - n) <= 1 for f in found for n in lines)
    n = len(tasks) or 1
    return {"tasks": len(tasks), "hit": hit, "hit_share": hit / n, "within_1_share": near / n,
            "flagged_share": flagged / n, "findings": len(mine),
            "findings_per_task": len(mine) / n, "hit_by": dict(rules.most_common())}  # fmt: skip


def review_folder(root: Path, args: argparse.Namespace) -> tuple[list[Finding], list[str]]:
    workspace = Workspace(root)
    if not args.endpoint:
        result = run_review(workspace, [], None, None, lambda _: None)
        return result.findings, result.notes
    from glasscoder.cli.run import build_model
    from glasscoder.config import load_settings
    from glasscoder.guard.audit import AuditLog

    settings = load_settings(root, {"endpoint": args.endpoint, "model": args.model})
    audit = AuditLog(root.parent / "audit.jsonl")
    model = build_model(settings, workspace, audit, _Quiet())
    result = run_review(workspace, [], None, model, lambda _: None)
    return result.findings, result.notes


class _Quiet:
    def notice(self, message: str) -> None:
        print(message, file=sys.stderr)


def run_set(label: str, tasks: list[Task], args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        root = Path(tmp) / "tasks"
        root.mkdir()
        write_tasks(root, tasks)
        started = time.perf_counter()
        findings, notes = review_folder(root, args)
        elapsed = time.perf_counter() - started
    layers = ["static"] + (["model"] if args.endpoint else [])
    row: dict[str, object] = {"set": label, "seconds": round(elapsed, 2), "notes": notes}
    for layer in layers:
        row[layer] = score(tasks, findings, layer)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quixbugs", type=Path, action="append", default=[])
    parser.add_argument("--humanevalfix", type=Path, action="append", default=[])
    parser.add_argument("--endpoint", help="model endpoint: adds the model layer")
    parser.add_argument("--model", help="model name the endpoint serves")
    parser.add_argument("--limit", type=int, help="first N tasks of each set")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    sets = [(f"QuixBugs {p.stem}", quixbugs(p)) for p in args.quixbugs]
    sets += [(f"HumanEvalFix {p.stem}", humanevalfix(p)) for p in args.humanevalfix]
    if not sets:
        parser.error("give at least one --quixbugs or --humanevalfix data file")
    rows = [run_set(label, tasks[: args.limit], args) for label, tasks in sets]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['set']} ({row['seconds']} s)")
        for layer in ("static", "model"):
            if (s := row.get(layer)) is not None:
                print(f"  {layer}: buggy line hit {s['hit']}/{s['tasks']} = {s['hit_share']:.1%}"
                      f" (by {s['hit_by']}); within 1 line {s['within_1_share']:.1%};"
                      f" any finding {s['flagged_share']:.1%};"
                      f" {s['findings_per_task']:.2f}/task")  # fmt: skip
        for note in row["notes"]:
            print(f"  note: {note}")


if __name__ == "__main__":
    main()
