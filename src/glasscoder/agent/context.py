"""The fixed start of every conversation: system prompt, environment, project instructions.

Everything here is stable for a session (no time, no random ids), so an inference server's
prefix cache covers it on every turn.
"""

from __future__ import annotations

import platform
from importlib import resources

from glasscoder.workspace import Workspace, WorkspaceError

INSTRUCTION_FILES = ("AGENTS.md", "GLASSCODER.md")
INSTRUCTIONS_LIMIT = 12_000  # characters per file; a huge AGENTS.md must not eat the context


def base_prompt() -> str:
    return resources.files("glasscoder.agent").joinpath("prompts/system.md").read_text()


def system_prompt(workspace: Workspace, approval: str, commands: str) -> str:
    parts = [base_prompt().strip(), environment(workspace, approval, commands)]
    instructions = project_instructions(workspace)
    if instructions:
        parts.append(instructions)
    return "\n\n".join(parts) + "\n"


def environment(workspace: Workspace, approval: str, commands: str) -> str:
    git = "yes" if (workspace.root / ".git").exists() else "no"
    return (
        "Environment:\n"
        f"- Workspace root: {workspace.root}\n"
        f"- Operating system: {platform.system()}\n"
        f"- Git repository: {git}\n"
        f"- Approval mode: {approval}\n"
        f"- Commands: {commands}"
    )


def project_instructions(workspace: Workspace) -> str:
    sections = []
    for name in INSTRUCTION_FILES:
        try:
            text = workspace.read_text(name)
        except WorkspaceError:
            continue
        if len(text) > INSTRUCTIONS_LIMIT:
            text = text[:INSTRUCTIONS_LIMIT] + f"\n[... {name} cut at {INSTRUCTIONS_LIMIT} chars]"
        sections.append(f"Project instructions from {name}:\n{text.strip()}")
    return "\n\n".join(sections)
