"""What happens when the model writes a redaction placeholder into a file or a command.

The model only ever sees ``[REDACTED:kind:n]`` where a secret was. If it copies one into a
write or a command, the result would be wrong in a quiet way: a config file holding the
placeholder instead of the key, a command failing to log in. So by default such a call is
refused with an explanation. A person who wants the model to be able to move secrets around
(without ever seeing them) opts in with ``restore_secrets = true``: the real values are put
back locally, just before the tool runs, and never travel to the model.

Only placeholders this session's redactor issued count; text that merely looks like one (a
test fixture, these docs) passes untouched. Read-only tools are not screened: a search for a
placeholder finds nothing and harms nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from glasscoder.guard.approval import Action


class IssuingRedactor(Protocol):
    def issued(self, text: str) -> list[str]: ...
    def restore(self, text: str) -> str: ...


class PlaceholderGuard:
    def __init__(self, redactor: IssuingRedactor, restore: bool = False) -> None:
        self.redactor = redactor
        self.restore = restore

    def screen(self, tool: Action, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(arguments to run with, None) or (arguments, the refusal the model gets)."""
        if tool.read_only:
            return args, None
        found = sorted({p for text in _strings(args) for p in self.redactor.issued(text)})
        if not found:
            return args, None
        if self.restore:
            return _map_strings(args, self.redactor.restore), None
        return args, _refusal(tool.name, found)


def _refusal(tool: str, found: list[str]) -> str:
    shown = ", ".join(found[:3]) + (" ..." if len(found) > 3 else "")
    return (
        f"Refused: this {tool} call contains {shown}, a placeholder for a secret that was kept "
        "from you. Running it would write or use the placeholder text instead of the secret. "
        "Leave the lines holding secrets as they are (edit around them with edit_file), or tell "
        "the user what to put there. (The user can let glasscoder restore real values locally "
        "with restore_secrets = true.)"
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, fn) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, fn) for item in value]
    return value
