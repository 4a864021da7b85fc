"""Cost-optimal routing: the sites (and carrier services) that ship an order for the least
cost, exactly.

The objective is the sum over packages of the cost model's package cost (carrier price +
handling, or the Jasin & Sinha linear cost), plus ``late_penalty`` per package that misses
a soft promise. Units (lines, or ship-together groups) go whole to one site, which must have
their stock; a line that no site has whole is first split across sites (sites that can also
ship other lines of the order first, then the cheapest), and the optimiser is exact given
that split.

How (:mod:`routing.engine.search`, :mod:`routing.engine.mip`):

* separable models (``fixed + per_item * items``, e.g. Jasin & Sinha): every m-subset of
  sites at once (numpy), m = 1, 2, ... until a lower bound on m-package plans cannot beat
  the best found; each unit at its cheapest site of the subset. This is the uncapacitated
  facility location problem of one order, solved by enumeration.
* other models (rate tables: a package's price steps with its weight): the best single
  package, then, unless a bound rules splits out, a DP over subsets of units, site by site.
* a MIP (``scipy.optimize.milp``, HiGHS) when that work would exceed ``Policy.enum_limit``,
  when two lines of the order compete for the same stock, or when ``solver="mip"``; also
  :func:`routing.engine.reoptimize` for batches of orders not yet picked (Xu, Allgor &
  Graves, 2009).

This module prepares the units, runs the search and explains the result.
"""

from __future__ import annotations

import numpy as np

from routing.engine.context import NO_CARRIER, Allocation, OrderContext, _quote_fields
from routing.engine.mip import PENALTY, solve_mip
from routing.engine.packing import pack_cost, pieces
from routing.engine.rules import _powers, key_text, keys_and_order
from routing.engine.search import (
    Best,
    combos_of,
    dp_search,
    enumerate_subsets,
    forced_cost,
    partial_search,
)

__all__ = ["BIG_PACKAGE", "Units", "allocate_optimal", "prepare_units"]

INF = float("inf")
BIG_PACKAGE = 1e4  # per package, when fewest shipments come before cost


class Units:
    """The optimiser's view of one order: the units to place, each with its weight ``W``,
    volume ``V``, items ``N``, candidate sites ``cand`` (sites x units), the order lines it
    carries (``parts``: per unit ``(line index, qty)``) and the stock it needs (``needs``:
    per unit ``(sku column of ctx.skus, qty)``)."""

    __slots__ = ("_W", "_V", "N", "cand", "parts", "_needs", "unfilled", "_lines", "has",
                 "packer")  # fmt: skip

    def __init__(
        self,
        W: np.ndarray | None,
        V: np.ndarray | None,
        N: np.ndarray,
        cand: np.ndarray,
        parts: list[list[tuple[int, int]]],
        needs: list[tuple[tuple[int, int], ...]] | None,
        unfilled: list[tuple[int, int, str]] | None = None,
    ) -> None:
        self._W, self._V, self.N, self.cand, self.parts = W, V, N, cand, parts
        self._needs = needs
        self.unfilled = [] if unfilled is None else unfilled
        self._lines: tuple | None = None
        self.has: list[bool] | None = None  # per site: a candidate for some unit
        # packer(k, units): the cost of those units from site k in as many packages as
        # they take (set by prepare_units; None: every share is one package).
        self.packer: Packer | None = None

    @classmethod
    def of_lines(cls, ctx: OrderContext, cand: np.ndarray) -> Units:
        """One unit per line, every line placeable: weights, volumes and needs are made
        when first read (a separable cost model never reads them)."""
        qtys = ctx.qtys
        units = cls(None, None, ctx.unit_n, cand, [[(i, q)] for i, q in enumerate(qtys)], None)
        units._lines = (ctx.ws, ctx.vs, ctx.line_d, qtys)
        return units

    @property
    def W(self) -> np.ndarray:
        if self._W is None:
            self._W = np.array(self._lines[0], float)
        return self._W

    @property
    def V(self) -> np.ndarray:
        if self._V is None:
            self._V = np.array(self._lines[1], float)
        return self._V

    @property
    def needs(self) -> list[tuple[tuple[int, int], ...]]:
        if self._needs is None:
            _, _, line_d, qtys = self._lines
            self._needs = [((d, q),) for d, q in zip(line_d, qtys, strict=True)]
        return self._needs


def prepare_units(ctx: OrderContext) -> Units:
    """The order's units with their candidate sites; lines no site has whole are split
    (``split_lines``) or left unfilled with their reason."""
    # fill is never written after it is made: with every site eligible it is cand itself.
    cand = ctx.fill if ctx.all_eligible else ctx.fill & ctx.eligible[:, None]
    n = cand.shape[1]
    if ctx.need is None and n <= 62:
        # Each site's candidate units as bits: one product answers both "is every line
        # fillable somewhere" (the usual order) and "which sites are candidates".
        masks = (cand @ _powers(n)).tolist()
        union = 0
        for m in masks:
            union |= m
        if union == (1 << n) - 1:
            units = Units.of_lines(ctx, cand)
            units.has = [m != 0 for m in masks]
            units.packer = Packer(ctx, units)
            return units
    ok = cand.any(axis=0)
    if ctx.need is None and ok.all():
        units = Units.of_lines(ctx, cand)
        units.packer = Packer(ctx, units)
        return units
    keep = np.flatnonzero(ok)
    W, V, N = list(ctx.unit_w[keep]), list(ctx.unit_v[keep]), list(ctx.unit_n[keep])
    cols = [cand[:, keep]]
    parts = [[(i, int(ctx.qty[i])) for i in ctx.units[u]] for u in keep]
    needs = [ctx.unit_needs[u] for u in keep]
    unfilled: list[tuple[int, int, str]] = []
    if not ok.all():
        work = ctx.avail.copy()
        for u in np.flatnonzero(~ok):
            members = ctx.units[u]
            if len(members) == 1 and ctx.policy.split_lines:
                i = members[0]
                chunks, left = _split(ctx, i, cand, work)
                for k, q in chunks:
                    share = q / ctx.qty[i]
                    W.append(ctx.line_w[i] * share)
                    V.append(ctx.line_v[i] * share)
                    N.append(float(q))
                    col = np.zeros((len(ctx.network), 1), bool)
                    col[k] = True
                    cols.append(col)
                    parts.append([(i, q)])
                    needs.append(((ctx.line_d[i], q),))
                if left:
                    unfilled.append((i, left, ctx.shortfall_reason(i, int(ctx.qty[i]))))
                continue
            for i in members:
                unfilled.append((i, int(ctx.qty[i]), _unit_reason(ctx, members, i)))
    units = Units(
        np.array(W, float), np.array(V, float), np.array(N, float),
        np.hstack(cols) if len(cols) > 1 else cols[0], parts, needs, unfilled,
    )  # fmt: skip
    units.packer = Packer(ctx, units)
    return units


class Packer:
    """``packer(k, us)``: the cost of units ``us`` from site k packed as build_plan packs
    them (packing.py); made per order, works only when a solver asks (a share that no one
    package holds)."""

    __slots__ = ("ctx", "units", "runs", "quote_fields")

    def __init__(self, ctx: OrderContext, units: Units) -> None:
        self.ctx, self.units = ctx, units
        self.runs: dict[int, list] = {}
        self.quote_fields = None

    def unit_runs(self, u: int) -> list:
        runs = self.runs.get(u)
        if runs is None:
            ctx = self.ctx
            runs = self.runs[u] = pieces(self.units.parts[u], ctx.ws, ctx.vs, ctx.qtys,
                                         ctx.line_group)  # fmt: skip
        return runs

    def __call__(self, k: int, us) -> float:
        if self.quote_fields is None:
            pricing = self.ctx.pricing
            self.quote_fields = getattr(pricing, "quote_fields", None) or _quote_fields(pricing)
        runs = [r for u in us for r in self.unit_runs(u)]
        return pack_cost(self.ctx.pricing, self.quote_fields, k, runs)

    def piece_ships(self) -> np.ndarray:
        """Per site and unit: whether some service takes each of its pieces alone."""
        units = self.units
        out = np.ones(units.cand.shape, bool)
        for u in range(len(units.N)):
            runs = self.unit_runs(u)
            W = np.array([r[0] for r in runs])
            V = np.array([r[1] for r in runs])
            N = np.array([float(r[2]) for r in runs])
            out[:, u] = np.isfinite(self.ctx.pricing.costs(W, V, N)).all(axis=1)
        return out


def _split(ctx, i, cand, work):
    """Chunks ``(site, qty)`` of line index ``i`` from eligible sites with some stock: the
    sites that can ship most other units first, then the cheapest package."""
    d, want = ctx.line_d[i], int(ctx.qty[i])
    others = cand.sum(axis=1)
    cheap = ctx.pricing.min_cost()
    sites = [k for k in np.flatnonzero(ctx.eligible & (work[:, d] > 0))]
    sites.sort(key=lambda k: (-others[k], cheap[k], ctx.dist[k]))
    chunks = []
    for k in sites:
        q = int(min(work[k, d], want))
        work[k, d] -= q
        want -= q
        chunks.append((int(k), q))
        if not want:
            break
    return chunks, want


def _unit_reason(ctx: OrderContext, members, i: int) -> str:
    if len(members) > 1:
        d = ctx.line_d[i]
        if (ctx.avail[ctx.eligible, d] >= ctx.qty[i]).any():
            nums = ",".join(str(ctx.lines[j].line_no) for j in members)
            return f"lines {nums} ship together and no eligible site has them all"
    return ctx.shortfall_reason(i, int(ctx.qty[i]))


def _conflict(ctx: OrderContext, units: Units) -> bool:
    """Whether two units could both want stock that a site cannot give both."""
    if len(units.N) < 2 or len(set(ctx.line_d)) == len(ctx.line_d) and ctx.need is None:
        return False
    need = np.zeros((len(units.needs), len(ctx.skus)), np.int64)
    for u, ns in enumerate(units.needs):
        for d, q in ns:
            need[u, d] += q
    total = units.cand.astype(np.int64) @ need
    return bool((total > ctx.avail).any())


# -- allocation ----------------------------------------------------------------------------
def allocate_optimal(ctx: OrderContext) -> Allocation:
    """The cheapest allocation of the order (module docstring)."""
    pol = ctx.policy
    keys, order = keys_and_order(ctx)  # eligible sites, preferred first: ties go to them
    alloc = Allocation(method="enumeration", keys=keys)
    alloc.est_cost = keys["cheapest"] if "cheapest" in keys else _EstCost(ctx)
    units = prepare_units(ctx)
    alloc.unfilled = list(units.unfilled)
    n = len(units.N)
    bonus = BIG_PACKAGE if pol.fewest_first else 0.0
    budget = pol.max_splits or len(ctx.network)
    has = units.has if units.has is not None else units.cand.any(axis=1).tolist()
    R = [k for k in order if has[k]]
    best = None
    mip = None
    partial = False
    if n and R:
        solver = pol.solver
        if solver == "auto" and _conflict(ctx, units):
            solver = "mip"
        if solver != "mip":
            limit = pol.enum_limit if solver == "auto" else None
            search = enumerate_subsets if ctx.pricing.separable else dp_search
            best = search(ctx, units, R, budget, bonus, limit)
            if best.assign is None and not best.too_big:
                # No plan ships every unit (a package no carrier takes, or max_splits):
                # ship what can, as the MIP would. Rare, so no order pays for the check.
                partial = True
                units = _shippable(ctx, units)
                R = [k for k in R if units.cand[k].any()]
                best = partial_search(ctx.pricing, units, R, budget, bonus, PENALTY, limit)
                if best.too_big and pol.solver == "enumerate":
                    best.too_big = 0  # ship nothing rather than leave the enumeration
            if best.too_big:
                solver = "mip"
        if solver == "mip" and R:
            try:
                mip = solve_mip([(ctx, units)], budget=budget, bonus=bonus,
                                time_limit=pol.mip_time_limit)  # fmt: skip
            except NotImplementedError:
                mip = None  # no MIP form: keep the best plan of the levels enumerated
        if mip is not None:
            alloc.method = "mip"
            assign = mip.assign[0].tolist()
            if -1 in assign and _top_up(ctx, units, assign, order, budget):
                mip.assign[0] = np.array(assign, np.intp)
                left = float(units.N[mip.assign[0] < 0].sum())
                mip.objective = _assign_cost(units, assign) + bonus * len(
                    {k for k in assign if k >= 0}) + PENALTY * left  # fmt: skip
            _assign_to(alloc, units, assign, _LeftReason(ctx, units, assign, order))
        elif best is not None and best.assign is not None and not partial:
            _assign_to(alloc, units, [R[j] for j in best.assign.tolist()])
        elif best is not None and best.assign is not None:
            assign = [R[j] if j >= 0 else -1 for j in best.assign.tolist()]
            _assign_to(alloc, units, assign, _LeftReason(ctx, units, assign, order))
        else:  # nothing feasible: packages too heavy or big, or max_splits too small
            if pol.max_splits is not None and pol.max_splits < min(n, len(R)):
                why = f"no plan within max_splits={pol.max_splits} ships the order"
            else:
                why = NO_CARRIER
            for u in range(n):
                for i, q in units.parts[u]:
                    alloc.unfilled.append((i, q, why))
    _explain(ctx, alloc, order, best, mip, R, bonus, units)
    return alloc


def apply_assignment(alloc: Allocation, units: Units, assign) -> None:
    """Each unit to its site in ``assign`` (-1: unfilled)."""
    _assign_to(alloc, units, assign.tolist() if isinstance(assign, np.ndarray) else assign)


def _assign_to(alloc: Allocation, units: Units, assign: list[int], reason=None) -> None:
    """``reason(u)``: why unit u is left (default: its stock went elsewhere)."""
    parts, unit_parts = alloc.parts, units.parts
    for u, k in enumerate(assign):
        if k < 0:
            why = "its stock went to other lines of this order" if reason is None else reason(u)
            for i, q in unit_parts[u]:
                alloc.unfilled.append((i, q, why))
            continue
        part = parts.get(k)
        if part is None:
            part = parts[k] = []
        part.extend(unit_parts[u])


def _top_up(ctx: OrderContext, units: Units, assign: list[int], order, budget: int) -> bool:
    """The MIP prices one package per site: give each unit it left to a site that has
    its stock and where its pieces ship (as extra packages: build_plan packs), sites of
    the plan first, then in the policy's order within ``budget`` sites. True when one
    was placed."""
    ships = units.packer.piece_ships()
    left = ctx.avail.copy()
    for u, k in enumerate(assign):
        if k >= 0:
            for d, q in units.needs[u]:
                left[k, d] -= q
    used = [k for k in order if k in set(assign)]
    placed = False
    for u, k in enumerate(assign):
        if k >= 0:
            continue
        room = used + ([k for k in order if k not in used] if len(used) < budget else [])
        needs = units.needs[u]
        for k in room:
            if units.cand[k, u] and ships[k, u] and all(left[k, d] >= q for d, q in needs):
                for d, q in needs:
                    left[k, d] -= q
                assign[u] = k
                placed = True
                if k not in used:
                    used.append(k)
                break
    return placed


def _assign_cost(units: Units, assign: list[int]) -> float:
    """What ``assign`` costs: per site one package, or its packing when none holds it."""
    by_site: dict[int, list[int]] = {}
    for u, k in enumerate(assign):
        if k >= 0:
            by_site.setdefault(k, []).append(u)
    total = 0.0
    pricing = units.packer.ctx.pricing
    for k, us in by_site.items():
        one = float(pricing.costs(units.W[us].sum(keepdims=True), units.V[us].sum(keepdims=True),
                                  units.N[us].sum(keepdims=True))[k, 0])  # fmt: skip
        total += one if one < INF else units.packer(k, us)
    return total


def _shippable(ctx: OrderContext, units: Units) -> Units:
    """``units`` with each unit's candidates cut to the sites where some carrier service
    takes each of its pieces (an item of a line, a group whole) as a package of its own."""
    ships = units.packer.piece_ships()
    out = Units(units.W, units.V, units.N, units.cand & ships, units.parts, units.needs,
                units.unfilled)  # fmt: skip
    out.packer = Packer(ctx, out)
    return out


class _LeftReason:
    """Why a solver left unit u unplaced, in plain words (worked out only for such units)."""

    def __init__(self, ctx: OrderContext, units: Units, assign: list[int], order) -> None:
        self.ctx, self.units, self.assign, self.order = ctx, units, assign, order
        self.ships: np.ndarray | None = None

    def __call__(self, u: int) -> str:
        ctx, units, assign = self.ctx, self.units, self.assign
        if self.ships is None:
            self.ships = np.isfinite(ctx.pricing.costs(units.W, units.V, units.N))
        sites = np.flatnonzero(units.cand[:, u] & self.ships[:, u]).tolist()
        if not sites:
            return NO_CARRIER
        # The sites that still have its stock once the plan has taken its own.
        left = ctx.avail.copy()
        for v, k in enumerate(assign):
            if k >= 0:
                for d, q in units.needs[v]:
                    left[k, d] -= q
        free = [k for k in sites if all(left[k, d] >= q for d, q in units.needs[u])]
        if not free:
            return "its stock went to other lines of this order"
        used = {k for k in assign if k >= 0}
        cap = ctx.policy.max_splits
        outside = [k for k in self.order if k in free and k not in used]
        if cap is not None and len(used) >= cap and outside:
            return f"max_splits={cap} reached: {ctx.network.ids[outside[0]]} has it"
        return "no carrier service takes it in one package with the rest from any site that has it"


def _explain(ctx, alloc, order, best: Best | None, mip, R, bonus, units) -> None:
    net = ctx.network
    chosen = sorted(alloc.parts, key=net.ids.__getitem__) if len(alloc.parts) > 1 else alloc.parts
    n_pk = len(chosen)
    head = f"{n_pk} shipment{'s' * (n_pk != 1)}"
    if chosen:
        head += " from " + ", ".join([net.ids[k] for k in chosen])
    parts = [head]
    cost = None
    if not chosen:
        pass  # nothing ships: there is no cost to state
    elif mip is not None:
        left = float(units.N[mip.assign[0] < 0].sum())  # the items it left, at PENALTY each
        cost = mip.objective - bonus * n_pk - PENALTY * left
        parts.append(f"cost {cost:.2f}, MIP (HiGHS) {mip.status}")
    elif best is not None and best.assign is not None:
        cost = best.cost - bonus * n_pk
        parts.append(f"cost {cost:.2f}, the least of {best.plans} plans enumerated")
        if best.stop_lb is not None:
            lb = best.stop_lb - bonus * best.stop_m
            parts.append(f"any plan of {best.stop_m}+ packages costs at least {lb:.2f}")
        elif best.too_big:
            parts.append(f"plans of {best.too_big}+ packages not tried (no MIP form)")
    if alloc.unfilled:
        parts.append(f"{len(alloc.unfilled)} line(s) back-ordered")
    alloc.summary = "; ".join(parts)
    if best is not None and best.ic is not None and mip is None:
        alloc.plan_cost = _PlanCost(best.ic, best.fixed, best.levels, R, bonus)
    elif best is not None and best.assign is not None and mip is None:
        chosen_R = {R[j] for j in best.assign.tolist() if j >= 0}
        alloc.plan_cost = _ForcedCosts(ctx.pricing, units, R, bonus, chosen_R, cost)
    alloc.why = _OptWhy(ctx, alloc, order, R, cost, best if mip is None else None, bonus)


class _EstCost:
    """Per site, one package of the whole order (computed when a report asks)."""

    def __init__(self, ctx: OrderContext) -> None:
        self.pricing = ctx.pricing
        self.lines = (ctx.ws, ctx.vs, ctx.qtys)
        self.value: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self.value is None:
            ws, vs, qtys = self.lines
            # As ctx.est_cost() sums them: the arrays' sums, so the same doubles.
            totals = (np.array(ws, float).sum(), np.array(vs, float).sum(),
                      float(np.array(qtys, np.int64).sum()))  # fmt: skip
            W, V, N = (np.array([x]) for x in totals)
            self.value = self.pricing.costs(W, V, N)[:, 0]
        return self.value


class _ForcedCosts:
    """Per site, the cheapest plan in which it ships something (the DP with that site
    last), computed when a report asks."""

    def __init__(self, pricing, units, R, bonus, chosen, cost) -> None:
        self.args = (pricing, units, R, bonus)
        self.chosen, self.cost = chosen, cost
        self.value: dict[int, float] | None = None

    def __call__(self) -> dict[int, float]:
        if self.value is None:
            pricing, units, R, bonus = self.args
            out = {}
            for k in R:
                if k in self.chosen:
                    out[k] = self.cost
                    continue
                c = forced_cost(pricing, units, R, k, bonus)
                if c < INF:
                    out[k] = round(c - bonus * _packages(c, bonus), 6)
            self.value = out
        return self.value


class _PlanCost:
    """Per site, the cheapest enumerated plan in which it ships something, recomputed
    from the item costs when a report asks (plans keep no enumeration arrays)."""

    def __init__(self, ic: np.ndarray, fixed, levels: int, R, bonus) -> None:
        self.ic, self.fixed, self.levels, self.R, self.bonus = ic, fixed, levels, R, bonus
        self.value: dict[int, float] | None = None

    def __call__(self) -> dict[int, float]:
        if self.value is None:
            ic, fixed = self.ic, np.asarray(self.fixed, float)
            site_best = np.full(len(self.R), INF)
            with np.errstate(invalid="ignore"):
                for m in range(1, self.levels + 1):
                    combos = combos_of(len(self.R), m)
                    sub = ic[combos]  # combos x m x units
                    low = sub.min(axis=1)
                    tot = low.sum(axis=1) + fixed[combos].sum(axis=1)
                    for j in range(m):
                        # The subset's plan with slot j shipping at least one unit.
                        extra = np.nan_to_num(sub[:, j, :] - low, nan=INF).min(axis=1)
                        np.minimum.at(site_best, combos[:, j], tot + extra)
            self.value = {
                k: float(c) - self.bonus * _packages(float(c), self.bonus)
                for k, c in zip(self.R, site_best.tolist(), strict=True)
                if c < INF
            }
        return self.value


class _OptWhy:
    """Why each site won or lost the cost-optimal plan, worded when asked (what it needs
    is worked out on the first question: routing a stream asks none)."""

    def __init__(self, ctx, alloc, order, R, cost, best, bonus) -> None:
        self.order_lines = ctx.lines
        self.parts = alloc.parts
        self.alloc = alloc
        self.fill = ctx.fill
        self.n_units = len(ctx.units)
        self.order = order
        self.R_list = R
        self.cost = cost
        self.stop = None
        if best is not None and best.stop_lb is not None:
            self.stop = (best.stop_m, best.stop_lb - bonus * best.stop_m)
        self._ready = False

    def _prepare(self) -> None:
        self.lines = [line.line_no for line in self.order_lines]
        self.fills = self.fill.sum(axis=1).tolist()
        self.eligible = set(self.order)
        self.R = set(self.R_list)
        self._ready = True

    def __call__(self, k: int) -> str:
        if not self._ready:
            self._prepare()
        if k not in self.eligible:
            return "not eligible"
        if k in self.parts:
            what = ", ".join(str(self.lines[i]) for i, _ in sorted(self.parts[k]))
            if self.cost is None:
                return f"in the optimal plan: ships line {what}"
            return f"in the cheapest plan ({self.cost:.2f}): ships line {what}"
        if k not in self.R:
            return "cannot ship any line whole"
        plan_cost = _value(self.alloc.plan_cost)
        if k in plan_cost and self.cost is not None:
            pc = plan_cost[k]
            return f"cheapest plan with it costs {pc:.2f} (+{pc - self.cost:.2f})"
        if self.stop is not None:
            return f"a plan with it needs {self.stop[0]}+ packages: at least {self.stop[1]:.2f}"
        est = _value(self.alloc.est_cost)
        est = est[k] if est is not None else INF
        if self.fills[k] == self.n_units and np.isfinite(est):
            return f"not in the optimal plan (alone: {key_text('cheapest', est)})"
        return f"not in the optimal plan (can ship {self.fills[k]} of {self.n_units} lines)"


def _value(x):
    return x() if callable(x) else x


def _packages(cost: float, bonus: float) -> int:
    return int(cost // bonus) if bonus else 0
