"""`glasscoder map` as a person runs it: a real subprocess on a real folder."""

import os
import subprocess
import sys
from pathlib import Path

from tests.repomap.conftest import write


def glasscoder(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glasscoder", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


def test_prints_the_map_ranked_toward_focus(repo: Path) -> None:
    proc = glasscoder("map", str(repo), "--focus", "billing/invoice.py", cwd=repo.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("billing/invoice.py:\n  4: def compute_invoice_total(")
    assert "billing/tax.py:\n  1: class TaxTable:" in proc.stdout
    assert "5 files mapped, 5 parsed" in proc.stderr
    again = glasscoder("map", cwd=repo)  # PATH defaults to here; the cache is warm
    assert again.returncode == 0 and "5 files mapped, 0 parsed" in again.stderr


def test_tokens_bound_the_output(repo: Path) -> None:
    small = glasscoder("map", "--tokens", "15", cwd=repo)
    large = glasscoder("map", "--tokens", "2000", cwd=repo)
    assert small.returncode == large.returncode == 0
    assert 0 < len(small.stdout) <= 60 < len(large.stdout)


def test_project_ignore_setting_applies(repo: Path) -> None:
    write(repo, {".glasscoder/config.toml": 'ignore = ["ui/"]\n'})
    proc = glasscoder("map", cwd=repo)
    assert proc.returncode == 0 and "ButtonWidget" not in proc.stdout
    assert "TaxTable" in proc.stdout


def test_bad_input_is_one_clear_line(repo: Path) -> None:
    proc = glasscoder("map", "--focus", "nope.py", cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"glasscoder: --focus: 'nope.py' is not a file in {repo}"
    proc = glasscoder("map", str(repo / "missing"), cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_grammars_name_the_extra(repo: Path) -> None:
    code = (
        "import sys; sys.modules['tree_sitter_language_pack'] = None\n"
        "from glasscoder.cli.main import main; sys.argv = ['glasscoder', 'map']; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pip install 'glasscoder[map]'" in proc.stderr
