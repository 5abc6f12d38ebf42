"""The environment commands run with: an allow-list of the parent's variables.

glasscoder's own environment often holds secrets (API keys for the model endpoint, cloud
credentials, tokens). A command the model chose must not see them by default, so children get
only the variables a build or test run usually needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

# The locale variables by name (POSIX and glibc): a prefix such as LC_ would also pass on
# whatever else someone named that way (LC_MY_TOKEN).
LOCALE = ("LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES", "LC_NUMERIC",
          "LC_TIME", "LC_MONETARY", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE",
          "LC_MEASUREMENT", "LC_IDENTIFICATION")  # fmt: skip
ALLOWED = (
    "PATH",
    "HOME",
    "LANG",
    "TERM",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "VIRTUAL_ENV",
    *LOCALE,
)


def minimal_env(
    extra_allowed: Sequence[str] = (), parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The parent's allowed variables (default: os.environ).

    ``extra_allowed`` adds exact names, or prefixes written with a trailing ``*`` (``"CARGO_*"``).
    PYTHONPATH is left out on purpose: a value set for glasscoder's own process would change
    which modules the project's code imports.
    """
    source = os.environ if parent is None else parent
    names = set(ALLOWED)
    prefixes: list[str] = []
    for name in extra_allowed:
        if name.endswith("*"):
            prefixes.append(name[:-1])
        else:
            names.add(name)
    env = {
        key: value
        for key, value in source.items()
        if key in names or any(key.startswith(p) for p in prefixes if p)
    }
    env.setdefault("PATH", os.defpath)  # without PATH, "bash" and "python" cannot be found
    return env
