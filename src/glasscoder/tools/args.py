"""Argument checks shared by the tools: clear errors the model can act on."""

from __future__ import annotations

from typing import Any

from glasscoder.tools.base import ToolError


def str_arg(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if value is None:
        raise ToolError(f"missing required argument '{name}'")
    if not isinstance(value, str):
        raise ToolError(f"argument '{name}' must be a string, not {type(value).__name__}")
    return value


def int_arg(
    args: dict[str, Any], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    value = args.get(name)
    if value is None:
        return default
    # Models sometimes send numbers as strings ("10"); accept those, but not booleans.
    if isinstance(value, str):
        value = _int_text(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"argument '{name}' must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ToolError(f"argument '{name}' must be at least {minimum}{upper}, not {value}")
    return value


def _int_text(text: str) -> int | str:
    """The integer a string spells in decimal digits; the string itself when it spells none.

    (str.isdigit() is also true of "²", which int() refuses.)
    """
    try:
        return int(text)
    except ValueError:
        return text


def bool_arg(args: dict[str, Any], name: str, default: bool) -> bool:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ToolError(f"argument '{name}' must be true or false")
    return value
