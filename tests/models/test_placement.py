"""Tensor placement: override parsing, the C array, the hook into llama-cpp-python's Llama, and
real loads of the tiny qwen3moe GGUF, where llama.cpp's own log says which tensors it placed.

llama.cpp logs "tensor NAME (...) buffer type overridden to TYPE" at debug level; its log
callback receives every level (the filtering is the callback's), so the tests swap in their own
callback for the load and read exactly what llama.cpp did.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from glasscoder.config import load_settings
from glasscoder.errors import UsageError
from glasscoder.models import placement
from glasscoder.models.placement import (
    EXPERTS,
    Override,
    OverrideArray,
    overrides_from_settings,
    parse_override,
    placed_by,
)
from tests.fixtures.tiny_gguf import TinyShape, write_tiny_gguf

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(
    not HAVE_LLAMA,
    reason="llama-cpp-python is not installed: "
    "CMAKE_ARGS='-DLLAVA_BUILD=OFF' pip install llama-cpp-python==0.3.36",
)
SHAPE = TinyShape()
EXPERT_NAMES = {f"blk.{i}.ffn_{kind}_exps.weight" for i in range(SHAPE.layers)
                for kind in ("up", "down", "gate")}  # fmt: skip
EXPERT_BYTES = SHAPE.experts * SHAPE.expert_ff * SHAPE.hidden * 2  # one f16 expert tensor
OVERRIDDEN = re.compile(r"tensor (\S+) \([^)]*\) buffer type overridden to (\S+)")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


# -- parsing the settings ----------------------------------------------------------------------


def test_parse_override_splits_at_the_last_equals_sign() -> None:
    assert parse_override(r"blk\.\d+\.ffn_.*_exps=CPU") == Override(r"blk\.\d+\.ffn_.*_exps", "CPU")
    assert parse_override("(?=x)a=b=CUDA0 ") == Override("(?=x)a=b", "CUDA0")


@pytest.mark.parametrize(
    ("text", "message"),
    [("ffn_up_exps", "must be REGEX=TYPE"), ("=CPU", "must be REGEX=TYPE"),
     ("ffn=", "must be REGEX=TYPE"), ("ffn_(up=CPU", "is not a regex"),
     ("a" * 300 + "=CPU", "longer than 256")],
)  # fmt: skip
def test_parse_override_refuses_bad_text(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_override(text)


def test_settings_order_explicit_first_then_experts() -> None:
    found = overrides_from_settings(["attn_q=CUDA0"], cpu_moe=True, n_cpu_moe=0)
    assert found == [Override("attn_q", "CUDA0"), Override(EXPERTS, "CPU")]
    assert overrides_from_settings([], cpu_moe=False, n_cpu_moe=0) == []
    with pytest.raises(UsageError, match="n_cpu_moe"):
        overrides_from_settings([], cpu_moe=False, n_cpu_moe=-1)


def test_n_cpu_moe_matches_only_the_first_layers_experts() -> None:
    patterns = [re.compile(o.pattern) for o in overrides_from_settings([], False, 2)]
    names = [f"blk.{i}.ffn_{kind}_exps.weight" for i in (0, 1, 2, 10, 11)
             for kind in ("up", "down", "gate")] + ["blk.0.ffn_up_shexp.weight",
                                                    "blk.1.ffn_gate_inp.weight"]  # fmt: skip
    placed = {name for name in names if any(p.search(name) for p in patterns)}
    assert placed == {n for n in names if n.startswith(("blk.0.", "blk.1.")) and "_exps" in n}


def test_cpu_moe_pattern_matches_every_expert_and_nothing_else() -> None:
    rx = re.compile(EXPERTS)
    assert all(rx.search(f"blk.{i}.ffn_{k}_exps.weight") for i in (0, 47) for k in ("up", "gate"))
    for other in ("blk.3.ffn_up_shexp.weight", "blk.3.ffn_gate_inp.weight",
                  "blk.3.attn_q.weight", "token_embd.weight"):  # fmt: skip
        assert not rx.search(other)


def test_config_keys_and_flags(tmp_path: Path, xdg: Path) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('cpu_moe = true\nn_cpu_moe = 3\noverride_tensor = ["attn_.*=CPU"]\n')
    settings = load_settings(tmp_path, {})
    assert (settings.cpu_moe, settings.n_cpu_moe, settings.override_tensor) == (
        True, 3, ["attn_.*=CPU"])  # fmt: skip
    flagged = load_settings(tmp_path, {"cpu_moe": None, "n_cpu_moe": 5,
                                       "override_tensor": ["x=CPU", "y=CPU"]})  # fmt: skip
    assert (flagged.cpu_moe, flagged.n_cpu_moe, flagged.override_tensor) == (
        True, 5, ["x=CPU", "y=CPU"])  # fmt: skip
    config.write_text('override_tensor = ["no equals sign"]\n')
    with pytest.raises(UsageError, match="must be REGEX=TYPE"):
        load_settings(tmp_path, {})


def test_repository_config_may_not_set_override_regexes(tmp_path: Path, xdg: Path) -> None:
    (tmp_path / ".glasscoder").mkdir()
    (tmp_path / ".glasscoder" / "config.toml").write_text(
        'override_tensor = ["(a*)*b=CPU"]\nn_cpu_moe = 2\n'
    )
    settings = load_settings(tmp_path, {})
    assert settings.override_tensor == [] and settings.n_cpu_moe == 2
    assert any("Ignored 'override_tensor'" in w for w in settings.warnings)


# -- the C array and what the GGUF holds -------------------------------------------------------


def test_override_array_is_null_terminated_and_points_at_its_patterns() -> None:
    overrides = [Override("attn_q", "CPU"), Override(EXPERTS, "GPU0")]
    array = OverrideArray(overrides, {"CPU": 0x1000, "GPU0": 0x2000})
    assert len(array) == 2
    assert array.entry(0) == (b"attn_q", 0x1000)
    assert array.entry(1) == (EXPERTS.encode(), 0x2000)
    assert array.entry(2) == (None, None)  # the terminator llama.cpp stops at
    # The address is the first element's: the pattern pointer read back through it.
    first = ctypes.cast(array.address, ctypes.POINTER(ctypes.c_char_p))
    assert first[0] == b"attn_q"


def test_unknown_buffer_type_names_the_available_ones() -> None:
    with pytest.raises(UsageError, match=r"Unknown buffer type 'CUDA0'.*has: CPU, CPU_Host\."):
        OverrideArray([Override("x", "CUDA0")], {"CPU": 1, "CPU_Host": 2})


def test_placed_by_counts_the_matching_tensors_first_match_winning(tiny_path: Path) -> None:
    experts = placed_by(tiny_path, overrides_from_settings([], True, 0))
    assert experts.tensors == {"CPU": 6} and experts.bytes == {"CPU": 6 * EXPERT_BYTES}
    assert experts.describe() == "6 tensors, 192.0 KiB in CPU"
    # The explicit override claims layer 0's up experts before cpu_moe sees them.
    mixed = placed_by(tiny_path, overrides_from_settings([r"blk\.0\.ffn_up=X"], True, 0))
    assert mixed.tensors == {"X": 1, "CPU": 5}
    assert placed_by(tiny_path, [Override("nothing_like_this", "CPU")]).tensors == {}


# -- failing loudly when llama-cpp-python changes shape ----------------------------------------


class _OtherParams(ctypes.Structure):
    _fields_ = [("n_gpu_layers", ctypes.c_int32), ("tensor_buft_overrides", ctypes.c_void_p)]


def _fake_llama_cpp(params: type, llama: Any) -> Any:
    module = SimpleNamespace(llama_model_params=params, llama_model_default_params=params)
    return SimpleNamespace(
        llama_cpp=module, llama=SimpleNamespace(llama_cpp=module), Llama=llama,
        llama_max_tensor_buft_overrides=lambda: 4096,
    )  # fmt: skip


def test_changed_params_layout_is_refused_before_loading() -> None:
    def must_not_load(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("loaded despite the changed layout")

    fake = _fake_llama_cpp(_OtherParams, must_not_load)
    array = OverrideArray([Override("x", "CPU")], {"CPU": 1})
    with pytest.raises(UsageError, match="llama_model_params has a different layout"):
        placement.load_llama(fake, array, "model.gguf")


@needs_llama
def test_a_llama_that_skips_the_defaults_is_closed_and_refused() -> None:
    import llama_cpp

    closed = []

    class OwnParamsLlama:  # builds its params some other way, as a future version might
        def __init__(self, path: str, **kwargs: Any) -> None:
            self.model_params = llama_cpp.llama_cpp.llama_model_params()

        def close(self) -> None:
            closed.append(True)

    fake = _fake_llama_cpp(llama_cpp.llama_cpp.llama_model_params, OwnParamsLlama)
    array = OverrideArray([Override("x", "CPU")], {"CPU": 1})
    with pytest.raises(UsageError, match=r"no longer builds its model params.*==0\.3\.36"):
        placement.load_llama(fake, array, "model.gguf")
    assert closed == [True]


@needs_llama
def test_hook_touches_only_the_loading_thread_and_is_undone() -> None:
    import llama_cpp

    module = llama_cpp.llama_cpp
    original = module.llama_model_default_params
    other: list[Any] = []
    with placement._hooked_defaults(module, 0x1234) as calls:
        mine = module.llama_model_default_params().tensor_buft_overrides
        thread = threading.Thread(
            target=lambda: other.append(module.llama_model_default_params().tensor_buft_overrides)
        )
        thread.start()
        thread.join()
    assert mine == 0x1234 and calls == [0x1234]
    assert other == [None]  # the C default, a NULL pointer
    assert module.llama_model_default_params is original


# -- real loads --------------------------------------------------------------------------------


@contextmanager
def llama_log() -> Iterator[list[str]]:
    """Every line llama.cpp logs meanwhile, debug level included."""
    import llama_cpp
    import llama_cpp._logger

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def keep(level: int, text: bytes, user_data: Any) -> None:
        lines.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(keep, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        llama_cpp.llama_log_set(llama_cpp._logger.llama_log_callback, ctypes.c_void_p(0))


def load(path: Path, **kwargs: Any) -> tuple[Any, dict[str, str]]:
    """llama.cpp's side of the embedded model (models/engine.py, which the worker process
    runs), loaded in this process so its log can be read; and the tensors llama.cpp says it
    overrode (name -> buffer type)."""
    from glasscoder.models.engine import Engine, LoadRequest

    overrides = overrides_from_settings(
        kwargs.get("override_tensor", ()), kwargs.get("cpu_moe", False), kwargs.get("n_cpu_moe", 0)
    )
    request = LoadRequest(str(path), {"n_ctx": 512, "n_threads": 2}, GREEDY,
                          [(o.pattern, o.buffer_type) for o in overrides])  # fmt: skip
    with llama_log() as lines:
        engine = Engine(request)
    assert any("load_tensors" in line for line in lines)  # the log was really captured
    return engine, dict(OVERRIDDEN.findall("".join(lines)))


def reply_text(engine: Any) -> tuple[str, int]:
    """At most six greedy tokens in answer to HELLO: their text, and how many were sampled."""
    from glasscoder.models.llamacpp import render_prompt

    prompt = render_prompt(engine.template, HELLO, [], engine.bos, engine.eos)
    tokens, reused, budget = engine.start(prompt, 6)
    pieces: list[str] = []
    _, sampled = engine.generate(tokens[reused:], budget, pieces.append, lambda: False)
    return "".join(pieces), sampled


HELLO = [{"role": "user", "content": "hello there"}]
GREEDY = {"temp": 0.0, "top_p": 0.8, "top_k": 20, "min_p": 0.0}


@needs_llama
def test_cpu_moe_overrides_exactly_the_expert_tensors(tiny_path: Path) -> None:
    plain, plain_overridden = load(tiny_path)
    expected = reply_text(plain)
    plain.close()
    assert plain_overridden == {} and plain._placement is None

    engine, overridden = load(tiny_path, cpu_moe=True)
    assert overridden == dict.fromkeys(EXPERT_NAMES, "CPU")
    assert reply_text(engine) == expected  # same weights, same greedy tokens, wherever they live
    engine.close()


@needs_llama
def test_worker_gets_the_overrides_and_the_notice_names_them(tiny_path: Path) -> None:
    from glasscoder.models.llamacpp import LlamaCppModel

    settings = {"n_ctx": 512, "n_threads": 2, "temperature": 0.0, "max_tokens": 6}
    plain = LlamaCppModel(tiny_path, **settings)
    expected = plain.complete(HELLO, []).content
    plain.close()
    assert plain.placement_note is None
    model = LlamaCppModel(tiny_path, cpu_moe=True, **settings)
    reply = model.complete(HELLO, [])
    model.close()
    assert reply.usage.completion_tokens >= 1 and reply.content == expected
    assert model.placement_note == "tiny.gguf: tensor overrides place 6 tensors, 192.0 KiB in CPU."


@needs_llama
def test_n_cpu_moe_and_explicit_overrides(tiny_path: Path) -> None:
    model, overridden = load(tiny_path, n_cpu_moe=1)
    model.close()
    assert overridden == {n: "CPU" for n in EXPERT_NAMES if n.startswith("blk.0.")}
    model, overridden = load(tiny_path, override_tensor=[r"attn_(q|k)\.weight=CPU"])
    assert overridden == {f"blk.{i}.attn_{x}.weight": "CPU" for i in (0, 1) for x in "qk"}
    assert reply_text(model)[1] >= 1
    model.close()


@needs_llama
def test_buffer_types_come_from_ggml_and_cpu_is_llama_cpps_own(tiny_path: Path) -> None:
    import llama_cpp

    bufts = placement.buffer_types(llama_cpp)
    assert "CPU" in bufts
    base = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    base.ggml_backend_cpu_buffer_type.restype = ctypes.c_void_p
    assert bufts["CPU"] == base.ggml_backend_cpu_buffer_type()
    with pytest.raises(UsageError, match=r"Unknown buffer type 'CUDA0'.*has: .*CPU"):
        load(tiny_path, override_tensor=["attn_q=CUDA0"])


@needs_llama
def test_cli_places_experts_and_says_so(tiny_path: Path, buggy_repo: Path, xdg: Path) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 8\ntemperature = 0.0\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = [sys.executable, "-m", "glasscoder", "-p", "Say hi.", "--model", str(tiny_path),
           "--output-format", "json", "--max-turns", "1", "--threads", "2",
           "--cwd", str(buggy_repo)]  # fmt: skip
    bad = subprocess.run([*run, "--override-tensor", "attn_q=NOPE"], capture_output=True,
                         text=True, timeout=300, env=env)  # fmt: skip
    assert bad.returncode == 2 and "Unknown buffer type 'NOPE'" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (xdg / "data" / "glasscoder" / "sessions").exists()  # refused before a session
    proc = subprocess.run([*run, "--cpu-moe"], capture_output=True, text=True, timeout=300,
                          env=env)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert "tensor overrides place 6 tensors, 192.0 KiB in CPU" in proc.stderr
    assert json.loads(proc.stdout)["usage"]["completion_tokens"] > 0
