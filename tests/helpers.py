"""Small builders shared by the tests."""

from pathlib import Path
from typing import Any


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Create each file (and its folders) under root; bytes are written as they are."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def xml_call(name: str, **params: Any) -> str:
    """A tool call rendered exactly as the Qwen3-Coder chat template renders one."""
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"
