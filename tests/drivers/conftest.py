"""Emulator fixtures: each test gets a fresh device on a real pty or socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.emulators.escpos_printer import EscposPrinterEmulator
from drivers.emulators.mt_sics_scale import MtSicsScaleEmulator
from drivers.emulators.serial_scanner import SerialScannerEmulator
from drivers.emulators.zpl_printer import ZplPrinterEmulator
from drivers.scale_mt_sics import MtSicsScale
from drivers.urls import open_scale


@pytest.fixture
def scale_emu() -> Iterator[MtSicsScaleEmulator]:
    # settle kept short so dynamic->stable tests are quick; tests needing a longer
    # dynamic phase pass their own settle time.
    with MtSicsScaleEmulator(weight=0.0, settle=0.3) as emu:
        yield emu


@pytest.fixture
def scale(scale_emu: MtSicsScaleEmulator) -> Iterator[MtSicsScale]:
    driver = open_scale(scale_emu.url)
    assert isinstance(driver, MtSicsScale)
    yield driver
    driver.close()


@pytest.fixture
def zpl_emu(tmp_path) -> Iterator[ZplPrinterEmulator]:
    with ZplPrinterEmulator(folder=tmp_path / "labels") as emu:
        yield emu


@pytest.fixture
def escpos_emu() -> Iterator[EscposPrinterEmulator]:
    with EscposPrinterEmulator() as emu:
        yield emu


@pytest.fixture
def scanner_emu() -> Iterator[SerialScannerEmulator]:
    with SerialScannerEmulator() as emu:
        yield emu
