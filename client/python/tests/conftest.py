# SPDX-License-Identifier: MIT
"""Session fixtures: one emulator and one broker for the whole run, users minted per role."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package under test
sys.path.insert(0, str(Path(__file__).resolve().parent))      # harness, fakebroker

from harness import Broker, Emulator, assert_log_clean  # noqa: E402


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="skybroker-pytest."))
    d.chmod(0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator(workdir: Path) -> Iterator[Emulator]:
    emu = Emulator(workdir)
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def broker(emulator: Emulator, workdir: Path, tokens: Dict[str, str]) -> Iterator[Broker]:
    b = Broker(emulator, workdir / "broker")
    yield b
    rc = b.stop()
    assert rc == 0, f"skybrokerd exited with {rc}"
    assert_log_clean(b, list(tokens.values()))


@pytest.fixture(scope="session")
def tokens(emulator: Emulator) -> Dict[str, str]:
    """Session tokens by role: viewer, admin, support, nobody (no role)."""
    return {"viewer": emulator.mint("U2pyviewer", ["Viewer"]),
            "admin": emulator.mint("U2pyadmin", ["Admin"]),
            "support": emulator.mint("U2pysupport", ["Support"]),
            "nobody": emulator.mint("U2pynobody", [])}
