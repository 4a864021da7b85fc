"""The MIP form of routing (``scipy.optimize.milp``, HiGHS): one order too large to
enumerate, or a batch of orders sharing stock and capacity.

Variables: x[u, k] (unit u from site k), open[k] (a package from k), a slack per unit
(left unrouted at a penalty) and, for rate tables, one binary per (site, service, weight
break) with the package's billable weight — actual, and dimensional above the service's
volume threshold — at most that break. Rows are scaled to a largest coefficient of 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from routing.engine.context import OrderContext
    from routing.engine.optimal import Units

__all__ = ["MipResult", "solve_mip"]

INF = float("inf")
SLACK = 1 + 1e-9  # big-M rows that hold with equality must not fail on rounding
PENALTY = 1e5  # per item left unplaced: above any plan's cost, so the most items ship


@dataclass
class MipResult:
    assign: list[np.ndarray]  # per problem: per unit its site index, -1 unfilled
    objective: float
    status: str


class _Model:
    def __init__(self) -> None:
        self.c: list[float] = []
        self.ub: list[float] = []
        self.ri: list[int] = []
        self.ci: list[int] = []
        self.v: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def var(self, cost: float) -> int:
        self.c.append(cost)
        self.ub.append(1.0)
        return len(self.c) - 1

    def row(self, terms, lo: float, hi: float) -> None:
        """Add ``lo <= sum(a * x[j]) <= hi``, scaled so its largest coefficient is 1
        (volumes in mm^3 would otherwise sit next to binaries and mislead HiGHS)."""
        r = len(self.lo)
        scale = max((abs(a) for _, a in terms), default=1.0) or 1.0
        for j, a in terms:
            self.ri.append(r)
            self.ci.append(j)
            self.v.append(a / scale)
        self.lo.append(lo / scale)
        self.hi.append(hi / scale)

    def solve(self, time_limit: float):
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_array

        nv = len(self.c)
        A = coo_array((self.v, (self.ri, self.ci)), shape=(len(self.lo), nv)).tocsr()
        with _quiet_stdout():
            return milp(
                np.array(self.c),
                integrality=np.ones(nv),
                bounds=Bounds(np.zeros(nv), np.array(self.ub)),
                constraints=LinearConstraint(A, np.array(self.lo), np.array(self.hi)),
                options={"time_limit": time_limit, "mip_rel_gap": 1e-9, "disp": False},
            )


_QUIET = threading.Lock()


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS (as bundled with scipy) writes a debug line straight to file descriptor 1
    now and then, whatever its options say ("HighsMipSolverData::transformNewInteger...").
    Point fd 1 at /dev/null while it runs, so ``--json`` output stays JSON. Output of other
    threads to fd 1 in that window is lost too: the hub logs through logging, not print."""
    with _QUIET:
        for stream in (sys.stdout, sys.__stdout__):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no fd 1 at all
            yield
            return
        fd = 1
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


def solve_mip(
    problems: Sequence[tuple[OrderContext, Units]],
    *,
    budget: int | None = None,
    bonus: float = 0.0,
    time_limit: float = 10.0,
    stock: dict[tuple[int, str], int] | None = None,
    capacity: np.ndarray | None = None,
    penalty: float = PENALTY,
) -> MipResult | None:
    """Place every problem's units at once, minimising total cost. ``stock``: available
    units per (site index, SKU) shared by all problems (default: each order's own
    snapshot); ``capacity``: packages each site may still ship (None: no limit). A unit
    left unplaced costs ``penalty`` per item. Returns None when HiGHS finds no solution in
    time. Raises NotImplementedError for a cost model without a MIP form."""
    M = _Model()
    xs: list[dict[tuple[int, int], int]] = []
    opens: dict[int, list[int]] = {}
    usage: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for ctx, units in problems:
        pricing = ctx.pricing
        sep = pricing.separable
        x: dict[tuple[int, int], int] = {}
        for u in range(len(units.N)):
            terms = []
            for k in np.flatnonzero(units.cand[:, u]):
                k = int(k)
                c = float(pricing.per_item[k] * units.N[u]) if sep else 0.0
                x[u, k] = M.var(c)
                terms.append((x[u, k], 1.0))
                for d, q in units.needs[u]:
                    usage.setdefault((k, ctx.skus[d]), []).append((x[u, k], q))
            terms.append((M.var(penalty * units.N[u]), 1.0))
            M.row(terms, 1.0, 1.0)
        xs.append(x)
        by_site: dict[int, list[int]] = {}
        for u, k in x:
            by_site.setdefault(k, []).append(u)
        order_opens = []
        for k, us in by_site.items():
            o = M.var((float(pricing.fixed[k]) if sep else 0.0) + bonus)
            order_opens.append((o, 1.0))
            opens.setdefault(k, []).append(o)
            for u in us:
                M.row([(x[u, k], 1.0), (o, -1.0)], -INF, 0.0)
            if not sep:
                _freight_rows(M, pricing.offers(k), units, us, [x[u, k] for u in us], o)
        if budget is not None and len(order_opens) > budget:
            M.row(order_opens, -INF, float(budget))
    for (k, sku), terms in usage.items():
        if stock is not None:
            have = stock.get((k, sku), 0)
        else:
            ctx = problems[0][0]
            have = int(ctx.avail[k, ctx.skus.index(sku)])
        if sum(q for _, q in terms) > have:
            M.row(terms, -INF, float(have))
    if capacity is not None:
        for k, os in opens.items():
            if capacity[k] < len(os):
                M.row([(o, 1.0) for o in os], -INF, float(max(capacity[k], 0)))
    res = M.solve(time_limit)
    if res.x is None:
        return None
    sol = res.x
    assign = []
    for (_, units), x in zip(problems, xs, strict=True):
        a = np.full(len(units.N), -1, np.intp)
        for (u, k), j in x.items():
            if sol[j] > 0.5:
                a[u] = k
        assign.append(a)
    status = "optimal" if res.status == 0 else f"stopped ({res.message})"
    return MipResult(assign, float(res.fun), status)


def _freight_rows(M: _Model, offers, units: Units, us: list[int], xk: list[int], o: int):
    """Package price steps at one site: one binary per (service, weight break); the
    billable weight of the chosen service must fit its break."""
    Wmax = float(sum(units.W[u] for u in us))
    Vmax = float(sum(units.V[u] for u in us))
    wrow = [(j, float(units.W[u])) for u, j in zip(us, xk, strict=True)]
    pick = [(o, -1.0)]
    for off in offers:
        dim = off.dim_min_volume_mm3 < Vmax
        dmax = Vmax / off.dim_divisor if dim else 0.0
        nb = min(int(np.searchsorted(off.caps, max(Wmax, dmax) - 1e-9)) + 1, len(off.caps))
        ys = []
        for b in range(nb):
            if np.isfinite(off.prices[b]):
                y = M.var(float(off.prices[b]) + off.penalty)
                ys.append((y, float(off.caps[b])))
        if not ys:
            continue
        pick += [(y, 1.0) for y, _ in ys]
        wrow += [(y, -cap) for y, cap in ys]
        if dim:
            terms = [(j, float(units.V[u]) / off.dim_divisor) for u, j in zip(us, xk, strict=True)]
            terms += [(y, dmax - cap) for y, cap in ys]
            if off.dim_min_volume_mm3 > 0:
                q = M.var(0.0)
                vrow = [(j, float(units.V[u])) for u, j in zip(us, xk, strict=True)]
                M.row(vrow + [(q, -Vmax)], -INF, off.dim_min_volume_mm3)
                M.row(terms + [(q, dmax)], -INF, 2 * dmax * SLACK)
            else:
                M.row(terms, -INF, dmax * SLACK)
    M.row(wrow, -INF, 0.0)
    M.row(pick, 0.0, 0.0)
