"""More than one package from one site, when no single package a carrier takes holds what
the site ships: first-fit-decreasing into packages some service takes.

A site's share of an order is made of *pieces*: each item of a line on its own (a line's
units may travel in separate boxes) and each ship-together group whole (a group is one
package by definition). The pieces are taken heaviest first (then largest, then in line
order) and each goes into the first package that some service still takes with it in;
when none does, a new package is opened. A piece that no service takes even alone is
refused: it stays with its reason, as a back-order.

The rule policies and the cost-optimal solvers use this one packing, so a plan's price
(:func:`pack_cost`) is the price of the packages the plan then contains
(:func:`routing.engine.context.build_plan`). Only a site whose share a single package
cannot hold is packed: ordinary orders never come here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["Packing", "first_fit_decreasing", "fits_at", "pack_cost", "pieces"]

INF = float("inf")

# A run of identical pieces: (weight_g, volume_mm3, items each, count, parts), where
# parts is ((line index, qty per piece), ...): one line's items, or a group's lines.
Run = tuple[float, float, int, int, tuple[tuple[int, int], ...]]
Fits = Callable[[float, float, int], bool]


class Packing:
    """The packages of one site: per package ``(weight_g, volume_mm3, items, parts)``
    with ``parts`` as ``[(line index, qty), ...]`` in line order; ``refused``: the
    ``(line index, qty)`` no service takes even as a package of their own."""

    __slots__ = ("packages", "refused")

    def __init__(self) -> None:
        self.packages: list[list] = []
        self.refused: list[tuple[int, int]] = []


def pieces(
    part: Sequence[tuple[int, int]],
    ws: Sequence[float],
    vs: Sequence[float],
    qtys: Sequence[int],
    line_group: Sequence[int] | None,
) -> list[Run]:
    """The runs of pieces of a site's share ``part`` (``(line index, qty)``): per line
    its ``qty`` items; the lines of one ship-together group (``line_group[i]`` >= 0, the
    same for each line of the group) as one piece. ``ws``/``vs``: per line, the weight and
    volume of its full ``qtys``."""
    runs: list[Run] = []
    groups: dict[int, list[tuple[int, int]]] = {}
    for i, q in part:
        g = -1 if line_group is None else line_group[i]
        if g >= 0:
            groups.setdefault(g, []).append((i, q))
            continue
        share = 1 / qtys[i]
        runs.append((ws[i] * share, vs[i] * share, 1, q, ((i, 1),)))
    for members in groups.values():
        w = v = 0.0
        n = 0
        for i, q in members:
            share = q / qtys[i]
            w += ws[i] * share
            v += vs[i] * share
            n += q
        runs.append((w, v, n, 1, tuple(members)))
    return runs


def first_fit_decreasing(runs: list[Run], fits: Fits) -> Packing:
    """Pack ``runs`` (see :func:`pieces`) heaviest first, each piece into the first
    package ``fits(weight, volume, items)`` still allows (a new one when none does)."""
    out = Packing()
    packages = out.packages
    # Heaviest, then largest, then line order: identical items of a line stay together,
    # and placing a run's items one by one or as many as fit at once is the same.
    for w, v, n, count, parts in sorted(runs, key=lambda r: (-r[0], -r[1], r[4][0][0])):
        if not fits(w, v, n):
            out.refused += [(i, q * count) for i, q in parts]
            continue
        left = count
        for p in packages:
            if not left:
                break
            t = _most(p, w, v, n, left, fits)
            if t:
                _add(p, w, v, n, t, parts)
                left -= t
        while left:
            p = [0.0, 0.0, 0, {}]
            t = _most(p, w, v, n, left, fits)  # >= 1: one piece fits alone
            _add(p, w, v, n, t, parts)
            packages.append(p)
            left -= t
    for p in packages:
        p[3] = sorted(p[3].items())
    return out


def _most(p: list, w: float, v: float, n: int, left: int, fits: Fits) -> int:
    """How many of ``left`` pieces package ``p`` takes (fits only ever gets harder as a
    package fills: billable weight and items only grow)."""
    if not fits(p[0] + w, p[1] + v, p[2] + n):
        return 0
    lo, hi = 1, left
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(p[0] + w * mid, p[1] + v * mid, p[2] + n * mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _add(p: list, w: float, v: float, n: int, t: int, parts) -> None:
    p[0] += w * t
    p[1] += v * t
    p[2] += n * t
    got = p[3]
    for i, q in parts:
        got[i] = got.get(i, 0) + q * t


def fits_at(quote_fields, k: int) -> Fits:
    """``fits`` for site ``k``: some service takes the package (the pricing quotes it)."""

    def fits(w: float, v: float, n: int) -> bool:
        return quote_fields(k, w, v, n) is not None

    return fits


def pack_cost(pricing, quote_fields, k: int, runs: list[Run]) -> float:
    """The cost of site ``k``'s share packed by :func:`first_fit_decreasing`: the sum of
    its packages' prices as ``pricing.costs`` gives them (penalties included); inf when a
    piece is refused."""
    packing = first_fit_decreasing(runs, fits_at(quote_fields, k))
    if packing.refused or not packing.packages:
        return INF
    W = np.array([p[0] for p in packing.packages])
    V = np.array([p[1] for p in packing.packages])
    N = np.array([float(p[2]) for p in packing.packages])
    return float(pricing.costs(W, V, N)[k].sum())
