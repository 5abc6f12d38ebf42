"""Fails unless the installed llama-cpp-python is the portable build of scripts/llama-wheel.sh.

A native build carries the kernels of the CPU it was built on (AVX-512, AMX); on another machine,
or on a VM that reports AMX without enabling it, those die with SIGILL. CI builds with the README's
command and runs this, so a native wheel sneaking in (pip's own cache, a changed flag) fails the run
instead of passing here and crashing elsewhere. `glasscoder doctor` checks a build against this
machine's CPU; this checks it against any x86-64 CPU with AVX2.
"""

from __future__ import annotations

import platform
import sys

from glasscoder.models.cpu_features import build_features

# Features a portable x86-64 build must not have compiled in (ggml reports compiled-in ones).
NOT_PORTABLE = {"AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_INT8"}


def main() -> int:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    features = build_features(info)
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if x86 and (features & NOT_PORTABLE or "AVX2" not in features):
        print(f"llama.cpp build is not the portable one: {info.strip()}", file=sys.stderr)
        print(
            "rebuild: sh scripts/llama-wheel.sh .venv/bin/python, then pip install "
            "--force-reinstall --no-deps that wheel",
            file=sys.stderr,
        )
        return 1
    print(f"llama.cpp build: portable ({' '.join(sorted(features))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
