"""The stored history must render through Qwen3-Coder-style chat templates.

Those templates walk `tool_call.arguments|items` and write each argument as a
`<parameter=NAME>` block, so arguments must be mappings in the history that templates see
(the embedded backend renders it directly). The template below is written here to exercise
exactly those constructs; it is not the model's own file.
"""

import jinja2
import pytest

from glasscoder.agent.loop import Agent
from glasscoder.agent.session import Session
from glasscoder.guard.approval import Approval
from glasscoder.models.openai_compat import _wire_message
from glasscoder.models.scripted import ScriptedModel
from glasscoder.tools.base import ToolContext
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace

TEMPLATE = """
{%- for m in messages -%}
<|im_start|>{{ m.role }}
{%- if m.content %}
{{ m.content }}{% endif %}
{%- for tc in m.tool_calls or [] %}
<tool_call>
<function={{ tc.function.name }}>
{% for name, value in tc.function.arguments|items -%}
<parameter={{ name }}>
{{ value if value is string else value|tojson }}
</parameter>
{% endfor -%}
</function>
</tool_call>
{%- endfor %}<|im_end|>
{% endfor -%}
"""


def render(messages: list[dict]) -> str:
    env = jinja2.Environment()
    return env.from_string(TEMPLATE).render(messages=messages)


def history(tmp_path, buggy_repo) -> list[dict]:
    call = (
        "<tool_call>\n<function=edit_file>\n<parameter=path>\ncalc.py\n</parameter>\n"
        "<parameter=old_string>\n    return a - b\n</parameter>\n"
        "<parameter=new_string>\n    return a + b\n</parameter>\n</function>\n</tool_call>"
    )
    session = Session.create(tmp_path / "s", {"workspace": str(buggy_repo)})
    session.append({"role": "system", "content": "sys"})
    ctx = ToolContext(Workspace(buggy_repo), None)
    model = ScriptedModel([call, "done"])
    Agent(model, default_tools(), ctx, Approval("auto"), session).run("fix it")
    return session.messages


def test_stored_history_renders_tool_calls_as_parameters(tmp_path, buggy_repo) -> None:
    text = render(history(tmp_path, buggy_repo))
    assert "<function=edit_file>\n<parameter=path>\ncalc.py\n</parameter>" in text
    assert "<parameter=old_string>\n    return a - b\n</parameter>" in text
    # The rendered call is what the model wrote: the history round-trips to the same text.
    assert "<parameter=new_string>\n    return a + b\n</parameter>\n</function>" in text


def test_wire_form_would_not_render(tmp_path, buggy_repo) -> None:
    """Why arguments stay mappings inside: the JSON-string wire form breaks such templates."""
    wire = [_wire_message(m) for m in history(tmp_path, buggy_repo)]
    with pytest.raises((TypeError, jinja2.TemplateError)):
        render(wire)
