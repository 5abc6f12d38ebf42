"""What models this machine already has: servers on loopback, and files `models pull` left.

First-run setup (cli/firstrun.py) offers these. Servers are found by asking each usual port on
127.0.0.1 for its model list (guard/egress.py's `probe_models`), all at once with a short
timeout, so a machine with nothing running costs a fraction of a second. Nothing is probed
beyond 127.0.0.1 and nothing of the person's is sent.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from glasscoder.models import registry
from glasscoder.models.pull import pulled_path

# (server, port): the port each one listens on when started without --port.
LOCAL_SERVERS: tuple[tuple[str, int], ...] = (
    ("llama.cpp server", 8080),
    ("vLLM", 8000),
    ("SGLang", 30000),
    ("Ollama", 11434),
    ("LM Studio", 1234),
)
PROBE_TIMEOUT = 0.3  # seconds; a local server answers its model list in milliseconds


@dataclass(frozen=True)
class LocalServer:
    name: str
    endpoint: str  # the base URL a run takes: http://127.0.0.1:PORT/v1
    models: tuple[str, ...]


@dataclass(frozen=True)
class PulledModel:
    spec: registry.ModelSpec
    path: Path


def find_servers(
    ports: tuple[tuple[str, int], ...] = LOCAL_SERVERS, timeout: float = PROBE_TIMEOUT
) -> list[LocalServer]:
    """The servers on 127.0.0.1 that list at least one model, in the order of `ports`."""
    if not ports:
        return []
    # Here, not at the top: the HTTP client is only needed when a first run probes.
    from glasscoder.guard.egress import probe_models

    def probe(port: int) -> list[str]:
        return probe_models(f"http://127.0.0.1:{port}", timeout)

    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        answers = list(pool.map(probe, [port for _, port in ports]))
    return [
        LocalServer(name, f"http://127.0.0.1:{port}/v1", tuple(models))
        for (name, port), models in zip(ports, answers, strict=True)
        if models
    ]


def pulled_models() -> list[PulledModel]:
    """Registry entries whose verified file is in the models folder."""
    found = []
    for spec in registry.MODELS:
        path = pulled_path(spec)
        if path is not None:
            found.append(PulledModel(spec, path))
    return found


def default_model() -> registry.ModelSpec:
    """The registry's default embedded model: the one first-run offers to pull."""
    spec = registry.find(registry.DEFAULT_MODEL)
    assert spec is not None, "registry.DEFAULT_MODEL names no entry"
    return spec
