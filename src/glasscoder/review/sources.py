"""The reviewed files' lines, read once through the workspace (beneath the root, ignore and
secret-file rules applied), so no layer sees or sends a file the agent could not."""

from __future__ import annotations

from glasscoder.workspace import Workspace, WorkspaceError

MAX_BYTES = 2 * 1024 * 1024  # larger files are generated or data, not code to review


class Sources:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lines: dict[str, list[str] | None] = {}

    def lines(self, file: str) -> list[str] | None:
        """The file's lines, or None when it is hidden, missing, binary or too large."""
        if file not in self._lines:
            self._lines[file] = self._read(file)
        return self._lines[file]

    def line(self, file: str, number: int) -> str:
        lines = self.lines(file) or []
        return lines[number - 1] if 1 <= number <= len(lines) else ""

    def _read(self, file: str) -> list[str] | None:
        try:
            data = self.workspace.read_bytes(file)
        except (WorkspaceError, OSError):
            return None
        if len(data) > MAX_BYTES or b"\0" in data[:8192]:
            return None
        return data.decode("utf-8", "replace").splitlines()
