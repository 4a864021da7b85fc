"""A real Mosquitto per test (free port, own persistence directory)."""

from __future__ import annotations

import pytest

from sync.broker.runner import Broker


@pytest.fixture
def broker(tmp_path):
    with Broker(workdir=tmp_path / "broker") as b:
        yield b
