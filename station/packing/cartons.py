"""Carton suggestion from item dimensions: the smallest carton the items fit in.

A first-fit-by-volume heuristic, as most pack stations use: every item must fit the
carton on its own (sorted dimensions compared), the items' total volume must stay under a
fill factor of the carton's volume (void fill, irregular shapes), and the weight under the
carton's limit. It is a suggestion: the packer can scan any carton instead.
"""

from __future__ import annotations

from dataclasses import dataclass

FILL_FACTOR = 0.8


@dataclass(frozen=True, slots=True)
class Box:
    code: str
    length_mm: int
    width_mm: int
    height_mm: int
    tare_g: float = 0.0
    max_weight_g: float = float("inf")

    @property
    def volume(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm

    @property
    def dims(self) -> tuple[int, int, int]:
        return tuple(sorted((self.length_mm, self.width_mm, self.height_mm)))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Item:
    length_mm: int
    width_mm: int
    height_mm: int
    weight_g: float
    qty: int = 1

    @property
    def dims(self) -> tuple[int, int, int]:
        return tuple(sorted((self.length_mm, self.width_mm, self.height_mm)))  # type: ignore[return-value]


def suggest_carton(items: list[Item], cartons: list[Box]) -> Box | None:
    """The smallest carton (by volume) that holds ``items``, or None if none does."""
    if not items:
        return None
    volume = sum(i.length_mm * i.width_mm * i.height_mm * i.qty for i in items)
    weight = sum(i.weight_g * i.qty for i in items)
    for box in sorted(cartons, key=lambda b: (b.volume, b.code)):
        if volume > box.volume * FILL_FACTOR or weight + box.tare_g > box.max_weight_g:
            continue
        if all(all(a <= b for a, b in zip(i.dims, box.dims, strict=True)) for i in items):
            return box
    return None
