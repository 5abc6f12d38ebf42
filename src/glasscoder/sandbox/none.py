"""The ``none`` sandbox: commands run as plain subprocesses, with no isolation at all.

It is only used when the person running glasscoder chooses it explicitly. What it still
guarantees comes from ``sandbox.supervise``: exactly the environment it is given (see
``sandbox.env.minimal_env``), output capped head and tail, the whole process group killed on
timeout and when the command returns.

Known hole: a process that calls ``setsid()`` (or ``setpgid()``) leaves the group, escapes
both kills and can run on after the command returns. The ``bwrap`` backend runs commands in
their own PID namespace, which closes this hole.
"""

from __future__ import annotations

from pathlib import Path

from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.supervise import LEFTOVERS_KILLED, TERM_GRACE, HeadTail, run_supervised

__all__ = ["LEFTOVERS_KILLED", "HeadTail", "NoSandbox"]


class NoSandbox:
    name = "none"

    def __init__(self, term_grace: float = TERM_GRACE) -> None:
        self.term_grace = term_grace

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        return run_supervised(argv, cwd, env, limits, self.term_grace)
