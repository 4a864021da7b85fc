"""Weight check: expected = items + carton tare; tolerance = max(percent, absolute minimum)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WeightCheck:
    measured_g: float
    expected_g: float
    tolerance_g: float

    @property
    def difference_g(self) -> float:
        return self.measured_g - self.expected_g

    @property
    def ok(self) -> bool:
        return abs(self.difference_g) <= self.tolerance_g

    def describe(self) -> str:
        if self.ok:
            return f"{self.measured_g:.0f} g — expected {self.expected_g:.0f} g ± {self.tolerance_g:.0f} g"
        word = "heavy" if self.difference_g > 0 else "light"
        return (
            f"Parcel is {abs(self.difference_g):.0f} g too {word}: "
            f"{self.measured_g:.0f} g, expected {self.expected_g:.0f} g ± {self.tolerance_g:.0f} g. "
            "Check the contents; a lead can override with their badge."
        )


def check_weight(measured_g: float, expected_g: float, pct: float, min_g: float) -> WeightCheck:
    """Compare a measured weight with the expected one under the configured tolerance."""
    return WeightCheck(measured_g, expected_g, max(expected_g * pct / 100.0, min_g))
