"""The command-line entry points: one module per command, the click group in main.py."""

from glasscoder.cli.main import main

__all__ = ["main"]
