#!/bin/sh
# Builds (once) and prints the path of the llama-cpp-python wheel that glasscoder's embedded backend
# uses. Usage: sh scripts/llama-wheel.sh [PYTHON]   (PYTHON: the venv's interpreter; default python3)
#
# Portable by default: llama.cpp's own default (GGML_NATIVE=ON, -march=native) compiles for every
# feature the building CPU reports, and a VM that reports AVX-512 or AMX without enabling it then dies
# with SIGILL on the first token of a quantized model. GGML_NATIVE=OFF gives llama.cpp's baseline:
# on x86-64 SSE4.2, AVX, AVX2, BMI2, FMA and F16C (no AVX-512, no AMX), on ARM64 the compiler's
# armv8-a. GLASSCODER_LLAMA_BUILD=native opts into the faster build for this very CPU.
#
# pip reuses a cached wheel whatever CMAKE_ARGS says, so the wheel is kept in a cache of our own keyed
# by version, flags, interpreter and architecture (and, for native builds, the CPU's feature list).
set -eu

py=${1:-python3}
version=0.3.36
build=${GLASSCODER_LLAMA_BUILD:-portable}
case "$build" in
    portable) flags="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" ;;
    native) flags="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON" ;;
    *) echo "GLASSCODER_LLAMA_BUILD must be portable or native, not '$build'" >&2; exit 2 ;;
esac
flags="$flags ${GLASSCODER_LLAMA_CMAKE_ARGS:-}"

tag=$("$py" -c 'import platform, sys; print("cp%d%d-%s-%s" % (sys.version_info[:2] + (sys.platform, platform.machine())))')
cpu=""
if [ "$build" = native ]; then
    cpu=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || sysctl -n machdep.cpu.brand_string 2>/dev/null || true)
fi
hash() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }
key=$(printf '%s|%s|%s|%s' "$version" "$flags" "$tag" "$cpu" | hash | cut -c1-16)
dir=${XDG_CACHE_HOME:-$HOME/.cache}/glasscoder/llama-wheels/$version-$build-$key

if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "glasscoder: building llama-cpp-python $version ($build: $flags); 5-20 minutes on 2 cores" >&2
    rm -rf "$dir.partial"
    CMAKE_ARGS="$flags" "$py" -m pip wheel -q --no-cache-dir --no-deps \
        --no-binary llama-cpp-python "llama-cpp-python==$version" -w "$dir.partial" >&2
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
fi
ls "$dir"/llama_cpp_python-*.whl
