"""Exact search for the cheapest plan of one order: subset enumeration for separable cost
models, a DP over subsets of units for any model. Numpy throughout; no I/O.

Both take the order's :class:`~routing.engine.optimal.Units` and ``R``, the candidate sites
(indices into the network) in the policy's order: on equal cost the plan found first, with
the preferred sites, stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, combinations
from math import comb
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from routing.engine.context import OrderContext
    from routing.engine.optimal import Units

INF = float("inf")
EPS = 1e-9
TIE = 1e-7  # per package in the DP: of two plans that cost the same, fewer packages


@lru_cache(maxsize=256)
def combos_of(r: int, m: int) -> np.ndarray:
    return np.array(list(combinations(range(r), m)), dtype=np.intp).reshape(-1, m)


@lru_cache(maxsize=16)
def _subsets(n: int):
    """Every (mask S of n bits, nonempty submask A of S) pair as arrays ``rest`` = S ^ A
    and ``sub`` = A, grouped by S = 1 .. 2**n - 1; ``starts[S - 1]`` is where S's pairs
    begin."""
    N = 1 << n
    rest, sub, starts = [], [], []
    for S in range(1, N):
        starts.append(len(sub))
        A = S
        while A:
            sub.append(A)
            rest.append(S ^ A)
            A = (A - 1) & S
    ints = np.intp
    return np.array(rest, ints), np.array(sub, ints), np.array(starts, ints)


def _pairs(n: int) -> int:
    return 3**n - 2**n


DP_MAX_UNITS = 12  # 3**12 pairs: beyond, the MIP


@dataclass
class Best:
    """What a search found: the cost and assignment, and what the explanation needs."""

    cost: float = INF
    assign: np.ndarray | None = None  # per unit: position in R
    levels: int = 0  # separable: subset sizes enumerated (1 .. levels)
    ic: np.ndarray | None = None  # separable: item cost per (position in R, unit)
    stop_lb: float | None = None  # the bound that ended the enumeration (None: complete)
    stop_m: int = 0
    too_big: int = 0  # the level whose enumeration would exceed the limit (0: none)
    plans: int = 0
    fixed: list[float] | None = None  # separable: fixed cost + bonus per position in R


def _level_work(r: int, n: int, m: int) -> int:
    """Array elements the enumeration of m-site subsets touches."""
    return comb(r, m) * m * n


def _bounds(ctx: OrderContext, units: Units, R: list[int], bonus: float, ic, one_each=True):
    """lbs[m-1]: a lower bound on the cost of any plan from m sites. ``one_each``: every
    site of R takes the whole order as one package, so no site of a plan ships more than
    one (with monotone prices: a share weighs and measures no more than the whole)."""
    pricing = ctx.pricing
    r = len(R)
    if pricing.separable:
        fixed = np.sort(pricing.fixed[R] + bonus)
        return np.cumsum(fixed) + ic.min(axis=0).sum()
    base = np.sort(pricing.min_cost()[R] + bonus)
    lbs = np.cumsum(base)
    # Each site's packages cost at least its cheapest package: the sum holds whatever the
    # packing; the weight argument below only while each site ships one package.
    if one_each and getattr(pricing, "monotone", False):
        # The heaviest of m packages weighs at least W/m and at least the heaviest unit.
        m = np.arange(1, r + 1)
        heavy = np.maximum(units.W.sum() / m, units.W.max())
        f = pricing.costs(heavy, np.zeros(r), np.ones(r))[R].min(axis=0) + bonus
        lbs = np.maximum(lbs, np.concatenate([[0.0], lbs[:-1]]) + f)
    return lbs


def enumerate_subsets(
    ctx, units: Units, R: list[int], budget: int, bonus: float, limit: int | None
):
    """Separable models: every m-subset of sites at once, m = 1, 2, ... while the bound
    allows; each unit goes to its cheapest site of the subset."""
    pricing = ctx.pricing
    r, n = len(R), len(units.N)
    best = Best()
    # Per order only the sums over units stay in numpy (its pairwise sums are not
    # Python's); what is per site is a short list: the same doubles, added in the same
    # order, without a numpy call per step. ufunc.reduce is what ndarray.min/sum call.
    fl = _fixed_list(pricing)
    fixed = [fl[k] + bonus for k in R]
    if n == 1:
        # One unit (a third of orders): its item cost per site as a list; a sum or a min
        # over one element is the element, so every figure below is the same double.
        pl = _per_item_list(pricing)
        n0 = float(units.N[0])
        col = units.cand[:, 0].tolist()
        icl = [pl[k] * n0 if col[k] else INF for k in R]
        low = min(icl)
        ic = np.array(icl).reshape(r, 1)
    else:
        ic = np.where(units.cand, pricing.per_item[:, None] * units.N[None, :], INF)[R]
        low = float(_add(_min(ic, 0)))  # each unit at its cheapest site
        icl = None
    cum = list(accumulate(sorted(fixed)))  # np.cumsum(np.sort(fixed)): sequential too
    for m in range(1, min(r, budget, n) + 1):
        lb = cum[m - 1] + low  # _bounds: no m-package plan costs less
        if lb >= best.cost - EPS:
            best.stop_lb, best.stop_m = lb, m
            break
        if limit is not None and _level_work(r, n, m) > limit:
            best.too_big = m
            break
        if m == 1:
            # One site each: the general step's min over one slot and sum of one fixed
            # cost are the values themselves, so this gives the same doubles.
            sums = icl if icl is not None else _add(ic, 1).tolist()
            tot = [x + f for x, f in zip(sums, fixed, strict=True)]
            best.plans += r
            t = min(tot)  # never nan: costs are finite or inf
            if t < best.cost - EPS:
                best.cost = t
                best.assign = np.full(n, tot.index(t), np.intp)
            best.levels = m
            continue
        combos = combos_of(r, m)
        sub = ic[combos]  # combos x m x units
        tot = _add(_min(sub, 1), 1) + _add(np.array(fixed)[combos], 1)
        best.plans += len(combos)
        i = int(tot.argmin())
        if tot[i] < best.cost - EPS:
            best.cost = float(tot[i])
            best.assign = combos[i][sub[i].argmin(axis=0)]
        best.levels = m
    best.ic = ic
    best.fixed = fixed
    return best


_add = np.add.reduce
_min = np.minimum.reduce


def _fixed_list(pricing) -> list[float]:
    """``pricing.fixed`` as a list, kept by pricings shared between orders."""
    return _as_list(pricing, "fixed")


def _per_item_list(pricing) -> list[float]:
    return _as_list(pricing, "per_item")


def _as_list(pricing, name: str) -> list[float]:
    cache = getattr(pricing, "site_terms", None)
    if cache is None:
        return getattr(pricing, name).tolist()
    values = cache.get(name)
    if values is None:
        values = cache[name] = getattr(pricing, name).tolist()
    return values


def _level_one(ctx, units: Units, R: list[int], bonus: float) -> tuple[float, int, bool]:
    """The cheapest site shipping every unit: (cost, position in R, whether every site
    of R takes the whole order as one package). A site that has every unit but no one
    package holding them ships them in as many as it takes (packing.py)."""
    C = units.cand[R]
    one = ctx.pricing.costs(units.W.sum(keepdims=True), units.V.sum(keepdims=True),
                            units.N.sum(keepdims=True))[R, 0] + bonus  # fmt: skip
    whole = np.isfinite(one)
    one_each = bool(whole.all())
    has_all = C.all(axis=1)
    one = np.where(has_all, one, INF)
    if not one_each and units.packer is not None:
        every = list(range(len(units.N)))
        for j in np.flatnonzero(has_all & ~whole).tolist():
            one[j] = units.packer(R[j], every) + bonus
    j = int(np.argmin(one))
    return float(one[j]), j, one_each


def dp_search(ctx, units: Units, R: list[int], budget: int, bonus: float, limit: int | None):
    """Exact for any cost model: a DP over subsets of units, site by site; each site ships
    one block of the units it can fill, or nothing. A site that can fill c of the n units
    costs 2**(n-c) * (3**c - 2**c) steps."""
    pricing = ctx.pricing
    r, n = len(R), len(units.N)
    best = Best()
    cost1, j1, one_each = _level_one(ctx, units, R, bonus)
    best.plans = r
    if np.isfinite(cost1):
        best.cost, best.assign = cost1, np.full(n, j1)
    lbs = _bounds(ctx, units, R, bonus, None, one_each)
    if n == 1 or budget == 1 or r == 1 or (len(lbs) > 1 and lbs[1] >= best.cost - EPS):
        if n > 1 and budget > 1 and r > 1:
            best.stop_lb, best.stop_m = float(lbs[1]), 2
        return best
    C = units.cand[R]
    cs = C.sum(axis=1)
    counted = budget < min(r, n)
    work = int(sum((1 << (n - c)) * _pairs(int(c)) for c in cs)) * (budget if counted else 1)
    if n > DP_MAX_UNITS or (limit is not None and work > limit):
        best.too_big = 2
        return best
    N = 1 << n
    stages, G, sites = _dp_stages(pricing, units, R, budget if counted else None, bonus)
    dp = stages[-1]
    best.plans += work
    final = dp[:, N - 1] if counted else dp[N - 1 : N]
    c = int(np.argmin(final))
    total = float(final[c])
    if not np.isfinite(total):
        return best
    assign = _walk_back(stages, G, sites, n, counted, c, N - 1)
    best.cost = total - TIE * len(set(assign.tolist()))
    best.assign = assign
    best.stop_lb = None
    return best


def _walk_back(stages, G, sites, n: int, counted: bool, c: int, S: int) -> np.ndarray:
    """The assignment (position in R per unit, -1: none) behind ``stages[-1][c, S]``
    (``[S]`` without a package budget): at each site, the block that made its value."""
    assign = np.full(n, -1)
    for j in range(len(stages) - 2, -1, -1):
        now, before = stages[j + 1], stages[j]
        if counted:
            if now[c, S] == before[c, S]:
                continue
            prev = before[c - 1]
        else:
            if now[S] == before[S]:
                continue
            prev = before
        blocks_j = sites[j][0][1:]
        blocks_j = blocks_j[(blocks_j & ~S) == 0]
        a = int(blocks_j[int(np.argmin(prev[S ^ blocks_j] + G[j, blocks_j]))])
        assign[(a >> np.arange(n)) & 1 == 1] = j
        S ^= a
        c -= counted
    return assign


def partial_search(
    pricing, units: Units, R: list[int], budget: int, bonus: float, penalty: float,
    limit: int | None,
) -> Best:  # fmt: skip
    """When no plan ships every unit: the plan that leaves the fewest items, then the
    cheapest (each item left costs ``penalty``: the MIP's objective), exact, by the DP
    over every set of units shipped. ``assign`` is -1 for a unit left; ``cost`` leaves
    the penalties out. ``too_big`` when the DP would exceed ``limit`` or DP_MAX_UNITS."""
    r, n = len(R), len(units.N)
    best = Best()
    if not r:  # no site ships any unit
        best.cost, best.assign = 0.0, np.full(n, -1)
        return best
    C = units.cand[R]
    counted = budget < min(r, n)
    work = int(sum((1 << (n - c)) * _pairs(int(c)) for c in C.sum(axis=1)))
    work *= budget if counted else 1
    if n > DP_MAX_UNITS or (limit is not None and work > limit):
        best.too_big = 1
        return best
    N = 1 << n
    stages, G, sites = _dp_stages(pricing, units, R, budget if counted else None, bonus)
    dp = stages[-1]
    shipped = _bits(n) @ units.N  # per mask: the items it ships
    left = penalty * (float(units.N.sum()) - shipped)
    total = dp + left
    flat = int(np.argmin(total))
    c, S = divmod(flat, N) if counted else (0, flat)
    cost = float(dp[c, S] if counted else dp[S])
    assign = _walk_back(stages, G, sites, n, counted, c, S)
    best.plans = work
    best.cost = cost - TIE * len(set(assign[assign >= 0].tolist()))
    best.assign = assign
    return best


def _dp_stages(pricing, units: Units, R: list[int], budget: int | None, bonus: float):
    """The DP's value tables: ``stages[j][S]`` (``[j][c, S]`` with a package budget) is
    the least cost of shipping the units of mask S from the first j sites of R."""
    r, n = len(R), len(units.N)
    C = units.cand[R]
    N = 1 << n
    weights = 1 << np.arange(n)
    # Per site: its candidate units' masks (dep: c-bit block -> n-bit mask) and the rest.
    sites = []
    for j in range(r):
        on, off = np.flatnonzero(C[j]), np.flatnonzero(~C[j])
        dep = (_bits(len(on)) @ weights[on]).astype(np.intp)
        free = (_bits(len(off)) @ weights[off]).astype(np.intp)
        sites.append((dep, free))
    blocks = np.unique(np.concatenate([dep[1:] for dep, _ in sites]))
    bits = _bits(n)[blocks]
    G = np.full((r, N), INF)
    G[:, blocks] = pricing.costs(bits @ units.W, bits @ units.V, bits @ units.N)[R] + (bonus + TIE)
    if units.packer is not None:
        _pack_blocks(G, sites, units, R, n, bonus)
    counted = budget is not None
    dp = np.full((budget + 1, N) if counted else (N,), INF)
    dp[..., 0] = 0.0
    stages = [dp]
    for j in range(r):
        dep, free = sites[j]
        c = len(dep).bit_length() - 1
        if c == 0:
            stages.append(dp)
            continue
        rest, sub, starts = _subsets(c)
        S_from = free[:, None] | dep[rest][None, :]  # 2**(n-c) x pairs
        g = G[j, dep[sub]]
        target = free[:, None] | dep[1:][None, :]
        new = dp.copy()
        if counted:
            red = np.minimum.reduceat(dp[:-1][:, S_from] + g, starts, axis=2)
            new[1:, target] = np.minimum(dp[1:, target], red)
        else:
            red = np.minimum.reduceat(dp[S_from] + g, starts, axis=1)
            new[target] = np.minimum(dp[target], red)
        dp = new
        stages.append(dp)
    return stages, G, sites


def _pack_blocks(G: np.ndarray, sites, units: Units, R: list[int], n: int, bonus: float):
    """A block of units that no one package from a site holds costs what its packing
    into several packages there costs (inf when a piece ships in no package at all).
    Only orders with such blocks pay for it: the usual G is finite where it matters."""
    refused: list[int] = []  # per position in R: units whose pieces no service takes there
    for j in range(len(R)):
        dep = sites[j][0][1:]
        bad = dep[~np.isfinite(G[j, dep])]
        if not len(bad):
            continue
        if not refused:
            refused = [0] * len(R)
        for b in sorted(bad.tolist(), key=int.bit_count):  # units alone first
            if b & refused[j]:
                continue
            members = [u for u in range(n) if b >> u & 1]
            cost = units.packer(R[j], members)
            if cost == INF:
                if len(members) == 1:
                    refused[j] |= b
                continue
            G[j, b] = cost + (bonus + TIE)


def forced_cost(pricing, units: Units, R: list[int], k: int, bonus: float = 0.0) -> float:
    """The cheapest plan in which site ``k`` (of R) ships something, by the DP with k
    last (no package budget); inf when there is none."""
    n = len(units.N)
    if n > DP_MAX_UNITS:
        return INF
    order = [j for j in R if j != k] + [k]
    stages, G, sites = _dp_stages(pricing, units, order, None, bonus)
    before = stages[-2]
    blocks = sites[-1][0][1:]
    full = (1 << n) - 1
    if not len(blocks):
        return INF
    total = float((before[full ^ blocks] + G[-1, blocks]).min())
    return total


@lru_cache(maxsize=32)
def _bits(n: int) -> np.ndarray:
    """(2**n x n): bit u of every mask."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
