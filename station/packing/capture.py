"""Capturing a weight by itself: once the scale has said "stable" long enough, take it.

Pure logic fed with (reading, time). A parcel is captured once; the next capture needs
the pan to be cleared (or the reading to change by more than the settle band), so a
parcel left on the scale is not weighed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import Weight


@dataclass(slots=True)
class StableCapture:
    hold_s: float = 0.4
    min_g: float = 10.0
    band_g: float = 2.0  # readings within this of each other count as the same weight
    _since: float | None = None
    _value: float | None = None
    _captured: float | None = None

    def feed(self, reading: Weight, now: float) -> float | None:
        """Return the captured grams when this reading completes a stable hold, else None."""
        if reading.grams < self.min_g:
            self.reset()
            return None
        if not reading.stable:
            self._since = None
            return None
        if self._captured is not None and abs(reading.grams - self._captured) <= self.band_g:
            return None  # same parcel, already taken
        if (
            self._value is None
            or self._since is None
            or abs(reading.grams - self._value) > self.band_g
        ):
            self._value, self._since = reading.grams, now
            if self.hold_s > 0:
                return None
        if now - self._since >= self.hold_s:
            self._captured = reading.grams
            return reading.grams
        return None

    def reset(self) -> None:
        """Forget the last capture (pan cleared, or the packer asked to weigh again)."""
        self._since = self._value = self._captured = None
