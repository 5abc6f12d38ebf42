"""The CPU features a llama.cpp build was compiled for, against what this CPU reports.

A build made for another CPU (or llama.cpp's default native build on a virtual machine that
reports more than it enables) dies with SIGILL on the first instruction this CPU lacks.
``llama_print_system_info`` lists the compiled-in features ("CPU : SSE3 = 1 | AVX2 = 1 | ..."),
``/proc/cpuinfo`` what the CPU (or the hypervisor) says it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# llama.cpp's feature name -> the /proc/cpuinfo flag that says the CPU has it. Names not listed
# (LLAMAFILE, OPENMP, REPACK, KLEIDIAI ...) are build options, not instructions.
X86_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "SSE42": "sse4_2", "AVX": "avx", "AVX2": "avx2",
    "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}  # fmt: skip
ARM_FLAGS = {
    "NEON": "asimd", "ARM_FMA": "asimd", "FP16_VA": "asimdhp", "DOTPROD": "asimddp",
    "MATMUL_INT8": "i8mm", "SVE": "sve", "SME": "sme",
}  # fmt: skip


@dataclass
class FeatureCheck:
    build: list[str]  # the CPU instruction features compiled in
    missing: list[str] = field(default_factory=list)  # compiled in, not reported by this CPU
    risky: list[str] = field(default_factory=list)  # reported, yet known to fail here
    cpu_known: bool = True  # False: no /proc/cpuinfo to compare with


def build_features(system_info: str) -> set[str]:
    """The CPU backend's compiled-in features, from llama_print_system_info's text, where each
    backend opens a section ("CUDA : ARCHS = 890 | ... | CPU : SSE3 = 1 | AVX2 = 1 | ...")."""
    found: set[str] = set()
    section = ""
    for part in system_info.split("|"):
        if ":" in part:
            section, _, part = part.partition(":")
            section = section.strip()
        name, _, value = part.partition("=")
        if section == "CPU" and value.strip() == "1":
            found.add(name.strip())
    return found


def cpu_flags(cpuinfo: str) -> set[str] | None:
    """The first processor's flags (x86) or Features (ARM) line; None when there is none."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def check(system_info: str, cpuinfo: str | None = None) -> FeatureCheck:
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    compiled = build_features(system_info)
    table = {**X86_FLAGS, **ARM_FLAGS}
    result = FeatureCheck(sorted(name for name in compiled if name in table))
    flags = cpu_flags(cpuinfo)
    if flags is None:
        result.cpu_known = False
        return result
    result.missing = [name for name in result.build if table[name] not in flags]
    # AMX needs tile state the OS and any hypervisor must enable; VMs often report AMX without
    # enabling it, and the first quantized matrix product then dies with SIGILL.
    if "AMX_INT8" in result.build and "AMX_INT8" not in result.missing and "hypervisor" in flags:
        result.risky.append("AMX_INT8")
    return result
