"""What the routing benchmark compares the policies with: the hindsight bound, and the
look-ahead policy of Acimovic & Graves (M&SOM 17(1), 2015).

**Exact per-order routing** (:func:`cheapest`): the cheapest way to ship one order given
per-item costs ``C[i, k]`` (``inf`` where site ``k`` cannot ship item ``i``) and package
costs ``f[k]``, by enumerating site subsets by size with numpy; a level is skipped once
the sum of its ``s`` smallest package costs plus every item's cheapest cost cannot beat
the best plan found, so an ordinary order looks at a few hundred subsets at most. The
dummy "unfilled" site is one more column, always available.

**Hindsight bound** (:func:`hindsight`): the whole order stream known in advance, with the
initial inventory. Per order ``o``: ``x[o,l,k]`` = line ``l`` from site ``k``, ``y[o,k]``
= a package from ``k``; minimise ``sum f_k y + sum u_kj x`` subject to ``sum_k x[o,l,k] = 1``,
``x[o,l,k] <= y[o,k]`` and, per site and SKU, ``sum x <= initial stock``. Three lower
bounds on every policy's cost (each policy's plans are a feasible integral point):

* the LP relaxation (HiGHS interior point);
* the Lagrangian bound (:func:`lagrangian`): the stock constraints priced at ``mu >= 0``,
  each order then routed *exactly* on its own: ``sum_o min (cost + mu . units) - mu .
  stock``. At the LP's duals it is at least the LP (an order's integral minimum is at
  least its fractional one); :func:`improve_lagrangian` climbs from there by subgradient
  steps. Its limit is the bound of the LP over each order's whole set of plans (Jasin &
  Sinha's DLP with the realised orders), tighter than the compact LP;
* the MIP (``scipy.optimize.milp``, integrality on ``y`` only: with the packages fixed,
  what is left is a transportation problem with integral capacities, whose LP has
  integral optima), run under a time limit: HiGHS' dual bound, and its incumbent, the
  best hindsight plan found. Only small streams get far in a few seconds.

**Look-ahead** (:class:`TransportLookAhead`, :class:`OrderLookAhead`): every
``resolve_every`` orders, an LP of the expected remaining demand against the current stock;
the duals of its stock constraints are the opportunity costs ``lambda_ki`` of a unit of SKU
i at site k, and each order is routed exactly (:func:`cheapest`) minimising its cost plus
``theta x lambda`` of every unit it takes. Acimovic & Graves' LP is a transportation
problem of units (per SKU and metro); the second LP sees orders (packages, splits), on a
sample of orders drawn from the forecast.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

if TYPE_CHECKING:
    from bench.routing_instance import Instance

_COMBOS: dict[tuple[int, int], np.ndarray] = {}


def _combos(m: int, s: int) -> np.ndarray:
    c = _COMBOS.get((m, s))
    if c is None:
        c = np.array(list(itertools.combinations(range(m), s)), dtype=np.intp).reshape(-1, s)
        _COMBOS[(m, s)] = c
    return c


def cheapest(C: np.ndarray, f: np.ndarray) -> tuple[float, np.ndarray]:
    """The cheapest plan: ``(cost, column of each row)``, where a plan's cost is the sum
    of ``f`` over the columns it uses plus each row's ``C`` in its column. ``C`` is
    (items, columns) with ``inf`` where an item cannot go; every row needs a finite entry.
    Exact: the minimum over column subsets S of ``sum f[S] + sum_i min_{k in S} C[i, k]``
    (a subset with a column that no row uses is dearer than the subset without it)."""
    n, m = C.shape
    if n == 1:
        tot = C[0] + f
        k = int(tot.argmin())
        return float(tot[k]), np.array([k])
    base = C.min(axis=1).sum()
    fs = np.sort(f)
    best, best_cols = np.inf, None
    for s in range(1, m + 1):
        if fs[:s].sum() + base >= best - 1e-9:
            break
        combos = _combos(m, s)
        totals = C[:, combos].min(axis=2).sum(axis=0) + f[combos].sum(axis=1)
        j = int(totals.argmin())
        if totals[j] < best:
            best, best_cols = float(totals[j]), combos[j]
    if best_cols is None:
        raise ValueError("an item has no column it can go to")
    return best, best_cols[C[:, best_cols].argmin(axis=1)]


def order_matrix(
    inst: Instance, o: int, stock: np.ndarray, prices: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(C, sites) of order ``o`` against ``stock``: the per-item costs (plus ``prices``
    of the units, if given) of the sites that hold at least one of its items, and the
    dummy last; ``sites`` are their indices (``inst.unfilled`` for the dummy)."""
    items = inst.items(o)
    p = inst.order_point[o]
    K = inst.n_sites
    have = stock[:, items] > 0  # (K, n)
    sites = np.flatnonzero(have.any(axis=1))
    C = np.empty((len(items), len(sites) + 1))
    unit = inst.unit[sites, p]
    cost = unit[None, :] if prices is None else unit[None, :] + prices[sites][:, items].T
    C[:, :-1] = np.where(have[sites].T, cost, np.inf)
    C[:, -1] = inst.unit[K, p]
    return C, np.append(sites, K)


# -- the hindsight bound -------------------------------------------------------------------


@dataclass
class Hindsight:
    """The hindsight figures; every ``*_bound`` is a valid lower bound on the total cost
    of any policy on this stream."""

    lp_bound: float
    lp_seconds: float
    lagrangian_bound: float | None = None  # L(mu) at the LP duals, improved by subgradient
    lagrangian_steps: int = 0
    lagrangian_seconds: float = 0.0
    mip_bound: float | None = None  # HiGHS' dual bound
    mip_cost: float | None = None  # its incumbent: the best hindsight plan found
    mip_gap: float | None = None
    mip_seconds: float | None = None
    mip_status: str | None = None
    variables: int = 0
    constraints: int = 0

    def _bounds(self) -> dict[str, float]:
        out = {"lp": self.lp_bound}
        if self.lagrangian_bound is not None:
            out["lagrangian"] = self.lagrangian_bound
        if self.mip_bound is not None:
            out["mip"] = self.mip_bound
        return out

    @property
    def bound(self) -> float:
        """The best valid lower bound found."""
        return max(self._bounds().values())

    @property
    def bound_kind(self) -> str:
        """Which bound :attr:`bound` is: ``lp``, ``lagrangian``, ``mip`` (HiGHS' dual
        bound) or ``mip_optimal`` (the MIP solved: the hindsight optimum itself)."""
        bounds = self._bounds()
        kind = max(bounds, key=lambda k: (bounds[k], k == "mip"))
        if kind == "mip" and self.mip_status == "optimal":
            return "mip_optimal"
        return kind


@dataclass
class _Model:
    c: np.ndarray
    A_eq: sparse.csr_matrix
    b_eq: np.ndarray
    A_ub: sparse.csr_matrix
    b_ub: np.ndarray
    n_x: int
    n_y: int
    pairs: np.ndarray  # the (site * n_skus + sku) of each stock row, after the x <= y rows


def _hindsight_model(inst: Instance, stock: np.ndarray) -> _Model:
    K = inst.n_sites
    n_lines = len(inst.order_items)
    line_order = np.repeat(np.arange(inst.n_orders), np.diff(inst.order_start))
    line_item = inst.order_items
    # candidate (line, site): sites with initial stock of the item, and the dummy
    avail = np.zeros((n_lines, K + 1), dtype=bool)
    avail[:, :K] = (stock[:, line_item] > 0).T
    avail[:, K] = True
    x_line, x_site = np.nonzero(avail)
    n_x = len(x_line)
    # y: (order, site) pairs that some line of the order could use
    order_site = np.zeros((inst.n_orders, K + 1), dtype=bool)
    order_site[line_order[x_line], x_site] = True
    y_order, y_site = np.nonzero(order_site)
    n_y = len(y_order)
    y_index = np.full((inst.n_orders, K + 1), -1, dtype=np.int64)
    y_index[y_order, y_site] = np.arange(n_y)
    points = inst.order_point[line_order[x_line]]
    c = np.concatenate([inst.unit[x_site, points], inst.fixed[y_site]])
    # each line shipped once (or left unfilled)
    A_eq = sparse.csr_matrix((np.ones(n_x), (x_line, np.arange(n_x))), shape=(n_lines, n_x + n_y))
    b_eq = np.ones(n_lines)
    # x <= y
    rows = np.arange(n_x)
    link = sparse.csr_matrix(
        (
            np.concatenate([np.ones(n_x), -np.ones(n_x)]),
            (
                np.concatenate([rows, rows]),
                np.concatenate([rows, n_x + y_index[line_order[x_line], x_site]]),
            ),
        ),
        shape=(n_x, n_x + n_y),
    )
    # stock of each (site, SKU)
    real = np.flatnonzero(x_site < K)
    pair = x_site[real] * inst.params.n_skus + line_item[x_line[real]]
    pairs, pair_row = np.unique(pair, return_inverse=True)
    cap = sparse.csr_matrix((np.ones(len(real)), (pair_row, real)), shape=(len(pairs), n_x + n_y))
    cap_b = stock.reshape(-1)[pairs].astype(float)
    A_ub = sparse.vstack([link, cap]).tocsr()
    b_ub = np.concatenate([np.zeros(n_x), cap_b])
    return _Model(c, A_eq, b_eq, A_ub, b_ub, n_x, n_y, pairs)


def hindsight(
    inst: Instance,
    *,
    lagrangian_seconds: float = 0.0,
    target: float | None = None,
    mip_time_limit: float | None = None,
) -> Hindsight:
    """The hindsight bounds of the stream: the LP; unless ``lagrangian_seconds`` is 0,
    :func:`lagrangian` at the LP's duals, improved by subgradient steps towards ``target``
    (a policy's total cost) for about that long; with ``mip_time_limit``, the MIP's dual
    bound and incumbent within that many seconds."""
    stock = inst.inventory
    m = _hindsight_model(inst, stock)
    t0 = time.perf_counter()
    # interior point (with crossover): on this LP it is ~5x faster than the dual simplex
    lp = linprog(
        m.c, A_ub=m.A_ub, b_ub=m.b_ub, A_eq=m.A_eq, b_eq=m.b_eq, bounds=(0, 1), method="highs-ipm"
    )
    if lp.status != 0:
        raise RuntimeError(f"hindsight LP: {lp.message}")
    result = Hindsight(
        lp_bound=float(lp.fun),
        lp_seconds=time.perf_counter() - t0,
        variables=m.n_x + m.n_y,
        constraints=m.A_eq.shape[0] + m.A_ub.shape[0],
    )
    if lagrangian_seconds > 0:
        t0 = time.perf_counter()
        mu = _prices(inst, m, lp)
        if target is None:
            result.lagrangian_bound, _ = lagrangian(inst, mu)
        else:
            result.lagrangian_bound, _, result.lagrangian_steps = improve_lagrangian(
                inst, mu, target, seconds=lagrangian_seconds
            )
        result.lagrangian_seconds = time.perf_counter() - t0
    if mip_time_limit is None:
        return result
    integrality = np.concatenate([np.zeros(m.n_x), np.ones(m.n_y)])
    t0 = time.perf_counter()
    res = milp(
        m.c,
        constraints=[
            LinearConstraint(m.A_eq, m.b_eq, m.b_eq),
            LinearConstraint(m.A_ub, -np.inf, m.b_ub),
        ],
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"time_limit": mip_time_limit, "mip_rel_gap": 1e-7, "disp": False},
    )
    result.mip_seconds = time.perf_counter() - t0
    result.mip_status = {0: "optimal", 1: "time_limit"}.get(res.status, f"status {res.status}")
    dual = getattr(res, "mip_dual_bound", None)
    if dual is not None and np.isfinite(dual):
        result.mip_bound = float(dual)
    if res.x is not None:
        result.mip_cost = float(res.fun)
        gap = getattr(res, "mip_gap", None)
        result.mip_gap = None if gap is None else float(gap)
        if res.status == 0:
            result.mip_bound = float(res.fun) if dual is None else max(float(dual), result.lp_bound)
    return result


# -- the Lagrangian bound -----------------------------------------------------------------


def lagrangian(
    inst: Instance, mu: np.ndarray, stock: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """``L(mu) = sum_o min_plan (cost + mu . units) - mu . stock`` for prices ``mu`` (K, S)
    >= 0 on the stock constraints, each order's minimum exact (:func:`cheapest`): a lower
    bound on the hindsight optimum for every ``mu``, and at the LP's duals at least the
    LP's value (each order's integral minimum is at least its fractional one). Returns
    ``(L, units used - stock)`` (a subgradient)."""
    stock = inst.inventory if stock is None else stock
    K, S = stock.shape
    used = np.zeros((K + 1, S))
    total = 0.0
    for o in range(inst.n_orders):
        C, sites = order_matrix(inst, o, stock, mu)
        c, cols = cheapest(C, inst.fixed[sites])
        total += c
        np.add.at(used, (sites[cols], inst.items(o)), 1)
    return total - float((mu * stock).sum()), used[:K] - stock


def improve_lagrangian(
    inst: Instance, mu: np.ndarray, target: float, *, seconds: float = 10.0, step: float = 0.1
) -> tuple[float, np.ndarray, int]:
    """Subgradient ascent on :func:`lagrangian` from ``mu`` for about ``seconds``, Polyak
    steps towards ``target`` (a policy's cost, above the optimum) scaled by ``step``,
    halved after each step that did not improve. Returns ``(best L, its mu, steps)``."""
    stocked = inst.inventory > 0
    t_end = time.perf_counter() + seconds
    cur = mu.copy()
    value, g = lagrangian(inst, cur)
    best, best_mu, steps = value, cur, 0
    while time.perf_counter() < t_end and step > 1e-4:
        g = np.where(stocked & ~((cur <= 0) & (g < 0)), g, 0.0)
        norm = float((g * g).sum())
        if norm == 0 or target <= value:
            break
        cur = np.maximum(0.0, cur + step * (target - value) / norm * g)
        value, g = lagrangian(inst, cur)
        steps += 1
        if value > best + 1e-9:
            best, best_mu = value, cur
        else:
            step /= 2
            cur = best_mu.copy()
            value, g = lagrangian(inst, cur)
    return best, best_mu, steps


def lp_duals(inst: Instance, stock: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """The hindsight LP's value and the duals of its stock constraints as prices (K, S)."""
    stock = inst.inventory if stock is None else stock
    m = _hindsight_model(inst, stock)
    res = linprog(
        m.c, A_ub=m.A_ub, b_ub=m.b_ub, A_eq=m.A_eq, b_eq=m.b_eq, bounds=(0, 1), method="highs-ipm"
    )
    if res.status != 0:
        raise RuntimeError(f"hindsight LP: {res.message}")
    return float(res.fun), _prices(inst, m, res)


def _prices(inst: Instance, m: _Model, res) -> np.ndarray:
    mu = np.zeros(inst.n_sites * inst.params.n_skus)
    mu[m.pairs] = np.maximum(0.0, -res.ineqlin.marginals[m.n_x :])
    return mu.reshape(inst.n_sites, inst.params.n_skus)


# -- the look-ahead policies ---------------------------------------------------------------


@dataclass
class _Priced:
    """Exact per-order routing on cost + ``theta`` x opportunity prices (K, S), the prices
    re-computed from the current stock every ``resolve_every`` orders."""

    inst: Instance
    theta: float = 1.0
    resolve_every: int = 250
    name: str = "lookahead"
    prices: np.ndarray = field(init=False, repr=False)
    solves: int = field(default=0, init=False)
    solve_seconds: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.prices = np.zeros((self.inst.n_sites, self.inst.params.n_skus))

    def duals(self, stock: np.ndarray, orders_left: int) -> np.ndarray:
        raise NotImplementedError

    def plan(self, o: int, stock: np.ndarray) -> np.ndarray:
        if o % self.resolve_every == 0:
            t0 = time.perf_counter()
            self.prices = self.theta * self.duals(stock, self.inst.n_orders - o)
            self.solves += 1
            self.solve_seconds += time.perf_counter() - t0
        C, sites = order_matrix(self.inst, o, stock, self.prices)
        _, cols = cheapest(C, self.inst.fixed[sites])
        return sites[cols]


@dataclass
class TransportLookAhead(_Priced):
    """Acimovic & Graves: the duals of a transportation LP of the expected remaining units
    (per SKU and metro: orders left x q_i x population share) against the stock. A unit
    costs ``u_kr + share x fixed`` from site k and ``u_dummy,r + dummy_share x its fixed``
    unfilled: the LP sees units, not orders, so the package cost is charged per unit."""

    share: float = 0.0
    dummy_share: float = 0.5
    name: str = "lookahead_transport"

    def duals(self, stock: np.ndarray, orders_left: int) -> np.ndarray:
        inst = self.inst
        K, S = stock.shape
        R = len(inst.region_names)
        wr = np.bincount(inst.point_region, weights=inst.point_weight, minlength=R)
        demand = orders_left * inst.expected_units[:, None] * (wr / wr.sum())[None, :]  # (S, R)
        ks, iis = np.nonzero(stock > 0)
        n_pairs = len(ks)
        n_x = n_pairs * R
        cx = (inst.region_unit[ks] + self.share * inst.fixed[ks][:, None]).reshape(-1)
        cz = np.broadcast_to(inst.region_unit[K] + self.dummy_share * inst.fixed[K], (S, R))
        c = np.concatenate([cx, cz.reshape(-1)])
        cols = np.arange(n_x)
        rows = np.repeat(iis, R) * R + np.tile(np.arange(R), n_pairs)
        A_eq = sparse.csr_matrix(
            (np.ones(n_x + S * R), (np.concatenate([rows, np.arange(S * R)]),
                                    np.concatenate([cols, n_x + np.arange(S * R)]))),
            shape=(S * R, len(c)),
        )  # fmt: skip
        A_ub = sparse.csr_matrix(
            (np.ones(n_x), (np.repeat(np.arange(n_pairs), R), cols)), shape=(n_pairs, len(c))
        )
        res = linprog(
            c, A_ub=A_ub, b_ub=stock[ks, iis].astype(float), A_eq=A_eq, b_eq=demand.reshape(-1),
            bounds=(0, None), method="highs",
        )  # fmt: skip
        if res.status != 0:
            raise RuntimeError(f"look-ahead LP: {res.message}")
        lam = np.zeros((K, S))
        lam[ks, iis] = np.maximum(0.0, -res.ineqlin.marginals)
        return lam


@dataclass
class OrderLookAhead(_Priced):
    """The same prices from an LP that sees orders: the hindsight LP (packages and all) of
    ``sample`` orders drawn from the demand distribution on a stream of their own (the
    forecast; never the real future), against the stock scaled by ``sample / orders left``,
    so that each sampled order stands for ``orders left / sample`` expected ones. The duals
    of its stock constraints are prices per real unit. This is Jasin & Sinha's
    deterministic LP over expected demand with sampled order types standing for the
    distribution, solved for its duals as Acimovic & Graves use theirs."""

    sample: int = 600
    name: str = "lookahead"
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        from bench.routing_instance import _rng

        self.rng = _rng(self.inst.params.seed, _LOOKAHEAD_SAMPLE)

    def duals(self, stock: np.ndarray, orders_left: int) -> np.ndarray:
        from bench.routing_instance import draw_baskets

        inst = self.inst
        m_orders = min(self.sample, orders_left)
        w = inst.point_weight / inst.point_weight.sum()
        points = self.rng.choice(len(w), size=m_orders, p=w)
        start, items = draw_baskets(self.rng, m_orders, inst.popularity, inst.size_probs)
        sample = replace(inst, order_point=points, order_start=start, order_items=items)
        m = _hindsight_model(sample, stock)
        b_ub = m.b_ub.copy()
        b_ub[m.n_x :] *= m_orders / orders_left
        res = linprog(
            m.c, A_ub=m.A_ub, b_ub=b_ub, A_eq=m.A_eq, b_eq=m.b_eq, bounds=(0, 1),
            method="highs-ipm",
        )  # fmt: skip
        if res.status != 0:
            raise RuntimeError(f"look-ahead LP: {res.message}")
        return _prices(inst, m, res)


_LOOKAHEAD_SAMPLE = 5  # the look-ahead's forecast stream: SeedSequence([seed, 5])
