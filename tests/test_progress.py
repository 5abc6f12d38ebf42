"""progress.py: a bar on a terminal's stderr, nothing at all anywhere else."""

import os
import subprocess
import sys
from pathlib import Path

from glasscoder.progress import progress

CHILD = """
import click
from glasscoder.progress import progress

with progress("counting widgets", total=0, delay=0) as advance:
    advance(0, total=3)
    click.echo("a notice while it runs", err=True)  # as review's notices are
    for _ in range(3):
        advance()
print("the output")
"""


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(capsys) -> None:
    with progress("counting widgets", total=3, delay=0) as advance:
        advance(0, total=3)
        advance()
    with progress("waiting", delay=0):
        pass
    assert capsys.readouterr() == ("", "")


def test_a_terminal_sees_the_bar_and_stdout_stays_clean(tmp_path: Path) -> None:
    primary, secondary = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=secondary, env=env,
                             cwd=tmp_path)  # fmt: skip
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0, drawn
    assert b"counting widgets" in drawn and b"a notice while it runs" in drawn
    assert out == b"the output\n"  # the bar never touches stdout


def test_map_piped_prints_only_its_summary(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    glasscoder = str(Path(sys.executable).parent / "glasscoder")
    done = subprocess.run([glasscoder, "map", str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "calc.py" in done.stdout and "add" in done.stdout
    [line] = done.stderr.splitlines()  # the summary alone: no bar, no escape codes
    assert line.startswith("glasscoder: 1 files mapped")
