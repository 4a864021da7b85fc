"""Tell a keyboard-wedge scanner from a person typing, by timing alone. No UI imports.

A wedge scanner "types" a whole barcode in a burst (a few ms per key) and presses Enter;
people are far slower. Feed every key with its timestamp; on Enter you learn whether the
keys since the last pause were a scan. Many scanners cannot type GS (FNC1, the GS1 field
separator) as a key, so they are set to type a substitute character, mapped back here.
"""

from __future__ import annotations

from dataclasses import dataclass

GS = "\x1d"
ENTER_KEYS = frozenset({"\r", "\n", "enter"})


@dataclass(frozen=True, slots=True)
class Burst:
    """What Enter closed: ``scan`` is the scanned text ("" if it was typing), ``typed``
    the keys before the burst (a person's), ``at`` the Enter timestamp."""

    scan: str
    typed: str
    at: float

    @property
    def is_scan(self) -> bool:
        return bool(self.scan)


class WedgeDetector:
    """``max_gap`` s between keys (and before Enter) and ``min_length`` keys make a scan."""

    def __init__(
        self, max_gap: float = 0.05, min_length: int = 4, gs_substitute: str | None = None
    ) -> None:
        self.max_gap = max_gap
        self.min_length = min_length
        self.gs_substitute = gs_substitute
        self.reset()

    def reset(self) -> None:
        self._keys: list[str] = []
        self._burst_start = 0  # index in _keys where the current fast run began
        self._last: float | None = None

    def feed(self, key: str, at: float) -> Burst | None:
        """Add one key (a character, or ``"enter"``) pressed at ``at`` seconds.

        Returns None while keys accumulate; on Enter returns a :class:`Burst`.
        """
        slow = self._last is not None and at - self._last > self.max_gap
        self._last = at
        if key in ENTER_KEYS:
            run = self._keys[self._burst_start :]
            is_scan = not slow and len(run) >= self.min_length
            cut = self._burst_start if is_scan else len(self._keys)
            scan = "".join(run) if is_scan else ""
            if is_scan and self.gs_substitute:
                scan = scan.replace(self.gs_substitute, GS)
            burst = Burst(scan=scan, typed="".join(self._keys[:cut]), at=at)
            self.reset()
            return burst
        if slow:
            self._burst_start = len(self._keys)
        self._keys.append(key)
        return None
