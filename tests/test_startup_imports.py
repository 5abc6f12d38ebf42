"""`--help` and headless runs start as fast as before interactive sessions existed: the UI
libraries (rich, prompt_toolkit) and the config writer are imported only by the interactive
session."""

import subprocess
import sys

UI = ("rich", "prompt_toolkit", "tomlkit")


def test_help_and_the_headless_path_do_not_import_the_ui() -> None:
    code = (
        "import sys, contextlib, io\n"
        "import glasscoder.cli.main, glasscoder.cli.run, glasscoder.cli.output\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        glasscoder.cli.main.cli.main(['--help'], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print([m for m in {UI!r} if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
