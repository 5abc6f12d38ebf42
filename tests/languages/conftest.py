"""Fixtures for the language tests: a bwrap backend, skipped where it cannot run here."""

from __future__ import annotations

import pytest

from glasscoder.sandbox.base import Sandbox
from glasscoder.sandbox.choose import bwrap_status, make_bwrap


@pytest.fixture
def bwrap() -> Sandbox:
    status = bwrap_status()
    if not status.ok:
        pytest.skip(f"bwrap unavailable: {status.problem}")
    return make_bwrap()
