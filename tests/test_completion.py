"""`glasscoder completion SHELL`: click's completion script, working in a real bash."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glasscoder.cli.completion import SHELLS, completion_command, completion_script
from glasscoder.errors import UsageError

BIN = Path(sys.executable).parent  # where the `glasscoder` console script is installed


def bash(script: Path, commands: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"source {script}\n{commands}"],
                          capture_output=True, text=True, env=env, check=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def bash_script(tmp_path: Path) -> Path:
    path = tmp_path / "glasscoder.bash"
    path.write_text(completion_script("bash"))
    return path


def test_the_sourced_bash_script_completes_glasscoder(bash_script: Path) -> None:
    assert "-F _glasscoder_completion" in bash(bash_script, "complete -p glasscoder")


def test_tab_after_mod_offers_models_through_the_real_program(bash_script: Path) -> None:
    typed = "COMP_WORDS=(glasscoder mod); COMP_CWORD=1; _glasscoder_completion glasscoder"
    out = bash(bash_script, f"{typed}; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    assert out.split() == ["models"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_is_the_one_click_serves(shell: str) -> None:
    env = {**os.environ, "_GLASSCODER_COMPLETE": f"{shell}_source"}
    served = subprocess.run([str(BIN / "glasscoder")], capture_output=True, text=True, env=env,
                            check=True).stdout  # fmt: skip
    assert served.strip() == completion_script(shell).strip()
    assert "_GLASSCODER_COMPLETE" in served


def test_the_command_prints_it_and_refuses_other_shells(capsys) -> None:
    completion_command("fish")
    assert capsys.readouterr().out.strip() == completion_script("fish").strip()
    with pytest.raises(UsageError, match="bash, zsh, fish"):
        completion_script("powershell")


def test_python_m_glasscoder_answers_a_completion_query(tmp_path: Path) -> None:
    # Needs cli.main(prog_name="glasscoder", ...) in cli/main.py: under `python -m` click
    # would otherwise read _PYTHON _M GLASSCODER_COMPLETE.
    env = {**os.environ, "_GLASSCODER_COMPLETE": "bash_complete",
           "COMP_WORDS": "glasscoder mod", "COMP_CWORD": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "glasscoder"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)  # fmt: skip
    assert (done.returncode, done.stdout.split()) == (0, ["plain,models"])


def test_glasscoder_completion_bash_on_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / "glasscoder"), "completion", "bash"], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == completion_script("bash").strip()
