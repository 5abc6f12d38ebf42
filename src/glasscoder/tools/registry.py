"""The built-in tool set, in the order the model sees it."""

from __future__ import annotations

from glasscoder.tools.base import Tool
from glasscoder.tools.edit import EditFile, WriteFile
from glasscoder.tools.files import Glob, ListDirectory, ReadFile
from glasscoder.tools.search import Grep
from glasscoder.tools.shell import RunShell
from glasscoder.tools.symbols import symbol_tools
from glasscoder.tools.tests import RunTests


def default_tools() -> list[Tool]:
    return [
        ReadFile(),
        WriteFile(),
        EditFile(),
        ListDirectory(),
        Glob(),
        Grep(),
        *symbol_tools(),
        RunShell(),
        RunTests(),
    ]
