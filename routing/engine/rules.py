"""Routing policies, and the rule-based allocation (the way Shopify, Manhattan or Fluent
order-routing rules work: filter the sites, sort them, allocate).

A :class:`Policy` is an ordered list of rule names plus options. Three kinds of rule:

Filters (remove sites; a removed site's report says which filter removed it):
  ``market``    only sites in the destination's market (``Site.market``, default country)
  ``capacity``  only sites below their daily package capacity (``Site.capacity``)
  ``promise``   only sites with a carrier service that meets the delivery promise
                (implied by ``promise="hard"``)
  Sites with no carrier service to the destination's country are always removed.

Sort rules (order the remaining sites; the first rule decides, later ones break ties, then
``tie_break``, then the site id):
  ``closest``     shortest great-circle distance to the destination
  ``ranked``      lowest ``Site.rank``
  ``most_stock``  most units of the order's SKUs on hand (keeps stock balanced)
  ``cheapest``    lowest cost of one package holding the whole order

Plan rules:
  ``min_splits``    fewest shipments. Sort rules *before* it split the sites into tiers of
                    equal keys (``ranked, min_splits, closest``: among the sites of the best
                    rank, fewest shipments, then closest); rules after it order the sites of
                    a tier. Without it, each line (or group) goes to the first site in order
                    that can ship it whole.
  ``cost_optimal``  choose sites and services by cost (:mod:`routing.engine.optimal`).
                    With ``min_splits`` before it: cheapest among the plans with the fewest
                    shipments.

Options: ``max_splits`` (most shipments per order; the rest is back-ordered),
``split_lines`` (may one line's units ship from several sites when no site has them all),
``promise`` (``soft``: a plan may ship late when nothing is on time; ``hard``: back-order
instead). Ship-together groups (``Order.groups``) always ship from one site.

Named policies (:data:`PRESETS`): ``closest``, ``min_splits``, ``ranked``, ``most_stock``,
``local``, ``cheapest``, ``cost_optimal``. :meth:`Policy.parse` reads a spec such as
``"market,min_splits,closest;max_splits=2;split_lines=no"`` or ``"ranked;max_splits=1"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from routing.engine.context import NO_CARRIER, Allocation, OrderContext

__all__ = ["FILTERS", "PLAN_RULES", "PRESETS", "SORTS", "Policy", "allocate_rules", "as_policy"]

FILTERS = ("market", "capacity", "promise")
SORTS = ("closest", "ranked", "most_stock", "cheapest")
PLAN_RULES = ("min_splits", "cost_optimal")

PRESETS: dict[str, dict[str, Any]] = {
    "closest": {"rules": ("capacity", "closest")},
    "min_splits": {"rules": ("capacity", "min_splits", "closest")},
    "ranked": {"rules": ("capacity", "ranked", "min_splits", "closest")},
    "most_stock": {"rules": ("capacity", "min_splits", "most_stock")},
    "local": {"rules": ("market", "capacity", "min_splits", "closest")},
    "cheapest": {"rules": ("capacity", "min_splits", "cheapest")},
    "cost_optimal": {"rules": ("capacity", "cost_optimal", "closest")},
}
_COVER_LIMIT = 20_000  # site subsets tried per tier before min_splits turns greedy


@dataclass(frozen=True)
class Policy:
    """How to route (see the module docstring). ``solver`` (cost-optimal only): ``auto``
    enumerates while the work stays under ``enum_limit`` and otherwise solves a MIP;
    ``enumerate`` and ``mip`` force one."""

    name: str = "min_splits"
    rules: tuple[str, ...] = PRESETS["min_splits"]["rules"]
    max_splits: int | None = None
    split_lines: bool = True
    tie_break: str = "ranked"
    promise: str = "soft"
    solver: str = "auto"
    enum_limit: int = 1_000_000
    mip_time_limit: float = 10.0
    filters: tuple[str, ...] = field(init=False, repr=False)
    sorts: tuple[str, ...] = field(init=False, repr=False)
    consolidate_at: int | None = field(init=False, repr=False)
    optimal: bool = field(init=False, repr=False)
    fewest_first: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        known = FILTERS + SORTS + PLAN_RULES
        for r in (*rules, self.tie_break):
            if r not in known:
                raise ValueError(f"unknown rule {r!r}: known rules are {', '.join(known)}")
        if self.tie_break not in SORTS:
            raise ValueError(f"tie_break must be a sort rule: {', '.join(SORTS)}")
        if len(set(rules)) != len(rules):
            raise ValueError(f"rule listed twice in {rules}")
        if self.promise not in ("soft", "hard"):
            raise ValueError("promise must be 'soft' or 'hard'")
        if self.solver not in ("auto", "enumerate", "mip"):
            raise ValueError("solver must be 'auto', 'enumerate' or 'mip'")
        if self.max_splits is not None and self.max_splits < 1:
            raise ValueError("max_splits must be at least 1")
        filters = tuple(r for r in rules if r in FILTERS)
        if self.promise == "hard" and "promise" not in filters:
            filters += ("promise",)
        sorts = tuple(r for r in rules if r in SORTS)
        if self.tie_break not in sorts:
            sorts += (self.tie_break,)
        consolidate_at = None
        if "min_splits" in rules:
            before = rules[: rules.index("min_splits")]
            consolidate_at = sum(r in SORTS for r in before)
        optimal = "cost_optimal" in rules
        fewest_first = (
            optimal
            and consolidate_at is not None
            and (rules.index("min_splits") < rules.index("cost_optimal"))
        )
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "sorts", sorts)
        object.__setattr__(self, "consolidate_at", consolidate_at)
        object.__setattr__(self, "optimal", optimal)
        object.__setattr__(self, "fewest_first", fewest_first)

    @property
    def hard_promise(self) -> bool:
        return self.promise == "hard"

    @classmethod
    def named(cls, name: str, **options: Any) -> Policy:
        """The preset ``name`` with ``options`` changed. Raises ValueError for an unknown
        name."""
        if name not in PRESETS:
            raise ValueError(f"unknown policy {name!r}: known policies are {', '.join(PRESETS)}")
        return cls(name=name, **{**PRESETS[name], **options})

    @classmethod
    def parse(cls, spec: str) -> Policy:
        """A policy from ``"NAME-or-RULES[;option=value...]"``: a preset name or
        comma-separated rules, then options (``max_splits``, ``split_lines``,
        ``tie_break``, ``promise``, ``solver``, ``enum_limit``, ``mip_time_limit``).
        Raises ValueError for anything unknown."""
        head, *opts = [p.strip() for p in spec.split(";")]
        options: dict[str, Any] = {}
        for opt in opts:
            key, sep, value = opt.partition("=")
            key, value = key.strip(), value.strip()
            if not sep:
                raise ValueError(f"option {opt!r}: use name=value")
            if key == "max_splits":
                options[key] = None if value.lower() in ("", "none") else int(value)
            elif key == "split_lines":
                if value.lower() not in ("yes", "no", "true", "false", "1", "0"):
                    raise ValueError(f"split_lines={value!r}: use yes or no")
                options[key] = value.lower() in ("yes", "true", "1")
            elif key in ("tie_break", "promise", "solver"):
                options[key] = value
            elif key == "enum_limit":
                options[key] = int(value)
            elif key == "mip_time_limit":
                options[key] = float(value)
            else:
                raise ValueError(f"unknown option {key!r}")
        if head in PRESETS:
            return cls.named(head, **options)
        rules = tuple(r.strip() for r in head.split(",") if r.strip())
        return cls(name=spec, rules=rules, **options)

    def with_options(self, **options: Any) -> Policy:
        return replace(self, **options)


def as_policy(policy: Policy | str | None) -> Policy:
    """A Policy from a Policy, a spec string (:meth:`Policy.parse`) or None (the default)."""
    if policy is None:
        return _DEFAULT
    if isinstance(policy, Policy):
        return policy
    cached = _PARSED.get(policy)
    if cached is None:
        cached = Policy.parse(policy)
        if len(_PARSED) < 256:
            _PARSED[policy] = cached
    return cached


_DEFAULT = Policy.named("min_splits")
_PARSED: dict[str, Policy] = {}


# -- site order ----------------------------------------------------------------------------
def sort_keys(ctx: OrderContext) -> dict[str, np.ndarray]:
    """Per sort rule of the policy, its key for every site (lower is better). Shared
    between the orders to one destination when every key depends on it only: read, never
    change."""
    sorts = ctx.policy.sorts
    if _is_static(sorts):
        hit = ctx.dest.orders.get(sorts)
        if hit is not None:
            return hit[1]
    keys = {}
    for name in sorts:
        if name == "closest":
            keys[name] = ctx.dist
        elif name == "ranked":
            keys[name] = ctx.network.rank
        elif name == "most_stock":
            keys[name] = -ctx.avail.sum(axis=1).astype(float)
        else:  # cheapest
            keys[name] = ctx.est_cost()
    return keys


def site_order(ctx: OrderContext, keys: dict[str, np.ndarray]) -> list[int]:
    """Eligible sites, best first: by each sort key in turn, then site id."""
    sorts = ctx.policy.sorts
    if _is_static(sorts):  # the keys depend on the destination only: sort once for it
        cache = ctx.dest.orders
        hit = cache.get(sorts)
        if hit is None:
            cols = [ctx.network.id_rank] + [keys[n] for n in reversed(sorts)]
            hit = cache[sorts] = (np.lexsort(cols).tolist(), keys)
        full = hit[0]
        if ctx.all_eligible:
            return list(full)
        eligible = ctx.eligible.tolist()
        return [k for k in full if eligible[k]]
    cols = [ctx.network.id_rank] + [keys[n] for n in reversed(sorts)]
    order = np.lexsort(cols)
    return order[ctx.eligible[order]].tolist()


def keys_and_order(ctx: OrderContext) -> tuple[dict[str, np.ndarray], list[int]]:
    """``sort_keys(ctx)`` and ``site_order(ctx, keys)``, with one cache lookup when the
    keys depend on the destination only."""
    sorts = ctx.policy.sorts
    if _is_static(sorts):
        hit = ctx.dest.orders.get(sorts)
        if hit is not None:
            if ctx.all_eligible:
                return hit[1], list(hit[0])
            eligible = ctx.eligible.tolist()
            return hit[1], [k for k in hit[0] if eligible[k]]
    keys = sort_keys(ctx)
    return keys, site_order(ctx, keys)


def _is_static(sorts: tuple[str, ...]) -> bool:
    static = _STATIC.get(sorts)
    if static is None:
        static = _STATIC[sorts] = all(n in ("closest", "ranked") for n in sorts)
    return static


_STATIC: dict[tuple[str, ...], bool] = {}


def key_text(name: str, value: float) -> str:
    if name == "closest":
        return f"{value:.0f} km"
    if name == "ranked":
        return f"rank {value:g}"
    if name == "most_stock":
        return f"{-value:g} units in stock"
    return "no service" if not np.isfinite(value) else f"est. {value:.2f}"


def _tiers(order: list[int], keys: dict[str, np.ndarray], pol: Policy) -> list[list[int]]:
    if pol.consolidate_at is None:
        return [[k] for k in order]
    if pol.consolidate_at == 0:
        return [order]
    prefix = pol.sorts[: pol.consolidate_at]
    tiers: list[list[int]] = []
    last = None
    for k in order:
        tag = tuple(float(keys[n][k]) for n in prefix)
        if tiers and tag == last:
            tiers[-1].append(k)
        else:
            tiers.append([k])
            last = tag
    return tiers


@lru_cache(maxsize=64)
def _powers(n: int) -> np.ndarray:
    return 1 << np.arange(n, dtype=np.int64)


def _cover(tier: list[int], masks, room: int, full: int = 0) -> tuple[int, ...]:
    """The fewest sites of ``tier`` (at most ``room``) covering the most units, first in
    tier order; greedy set cover when there are too many subsets to try. ``masks[k]``:
    the units site k can ship, as bits (a dict or a list indexed by site). ``full``: the
    mask of every unit left, for the common case of one site that has them all."""
    if full:
        for k in tier:
            if masks[k] == full:
                return (k,)
    cands = [k for k in tier if masks[k]]
    if not cands:
        return ()
    ms = [masks[k] for k in cands]
    target = 0
    for m in ms:
        target |= m
    c = len(cands)
    # All the candidates together cover the target: with room for them all, a covering
    # subset is always found and the best partial one is never needed.
    track = room < c
    best, best_n = (), 0
    for size in range(1, min(room, c) + 1):
        if comb(c, size) > _COVER_LIMIT:
            return _greedy_cover(cands, masks, room)
        # Sizes 1 and 2 (nearly every order) as plain loops, in combinations() order.
        if size == 1:
            for a in range(c):
                m = ms[a]
                if m == target:
                    return (cands[a],)
                if track and m.bit_count() > best_n:
                    best, best_n = (cands[a],), m.bit_count()
            continue
        if size == 2:
            for a in range(c - 1):
                ma = ms[a]
                for b in range(a + 1, c):
                    m = ma | ms[b]
                    if m == target:
                        return (cands[a], cands[b])
                    if track and m.bit_count() > best_n:
                        best, best_n = (cands[a], cands[b]), m.bit_count()
            continue
        for combo in combinations(range(c), size):
            m = 0
            for j in combo:
                m |= ms[j]
            if m == target:
                return tuple(cands[j] for j in combo)
            if track and m.bit_count() > best_n:
                best, best_n = tuple(cands[j] for j in combo), m.bit_count()
    return best


def _greedy_cover(cands: list[int], masks, room: int) -> tuple[int, ...]:
    chosen: list[int] = []
    covered = 0
    while len(chosen) < room:
        k = max(cands, key=lambda k: ((masks[k] & ~covered).bit_count(), -cands.index(k)))
        if not masks[k] & ~covered:
            break
        chosen.append(k)
        covered |= masks[k]
    return tuple(sorted(chosen, key=cands.index))


# -- allocation ----------------------------------------------------------------------------
def allocate_rules(ctx: OrderContext) -> Allocation:
    """Allocate the order's units to sites by the policy's rules (module docstring)."""
    pol, net = ctx.policy, ctx.network
    keys, order = keys_and_order(ctx)
    alloc = Allocation(method="rules", keys=keys)
    if "cheapest" in keys:
        alloc.est_cost = keys["cheapest"]
    work = ctx.avail.tolist()
    n_units = len(ctx.units)
    remaining = list(range(n_units))
    # Which units each site can ship whole, as bits: one int per site answers both "can
    # it ship any of what is left" and "can it ship unit u" without a row of booleans.
    if n_units <= 62:
        site_masks = (ctx.fill @ _powers(n_units)).tolist()
    else:
        site_masks = [_mask(row, remaining) for row in ctx.fill.tolist()]
    rem = every = (1 << n_units) - 1
    used: list[int] = []
    got: dict[int, list[int]] = {}
    budget = pol.max_splits or len(net) + len(ctx.lines)
    consolidated = pol.consolidate_at is not None

    if ctx.need is None:  # one line per unit: its own sku and qty
        line_d, qtys = ctx.line_d, ctx.qtys

        def take(k: int, u: int) -> bool:
            row = work[k]
            d, q = line_d[u], qtys[u]
            if row[d] < q:
                return False
            row[d] -= q
            return True

    else:
        needs = ctx.unit_needs

        def take(k: int, u: int) -> bool:
            row = work[k]
            for d, q in needs[u]:
                if row[d] < q:
                    return False
            for d, q in needs[u]:
                row[d] -= q
            return True

    # Without min_splits every tier is one site: the policy's order itself.
    for tier in _tiers(order, keys, pol) if consolidated else order:
        if not rem or len(used) >= budget:
            break
        if not consolidated or len(tier) == 1:
            k = tier if not consolidated else tier[0]
            m = site_masks[k] & rem
            if not m:
                continue
            mine = [u for u in remaining if m >> u & 1 and take(k, u)]
        else:
            # Per site (indexed by site, as _cover reads it): its units still left.
            masks = site_masks if rem == every else [m & rem for m in site_masks]
            combo = _cover(tier, masks, budget - len(used), rem)
            mine = []
            per: dict[int, list[int]] = {}
            for u in remaining:
                for k in combo:
                    if site_masks[k] >> u & 1 and take(k, u):
                        per.setdefault(k, []).append(u)
                        mine.append(u)
                        break
            for k in combo:
                if k in per:
                    got[k] = per[k]
                    used.append(k)
            if mine:
                for u in mine:
                    rem &= ~(1 << u)
                remaining = [u for u in remaining if rem >> u & 1]
            continue
        if mine:
            got[k] = mine
            used.append(k)
            for u in mine:
                rem &= ~(1 << u)
            remaining = [u for u in remaining if rem >> u & 1]

    parts = alloc.parts
    units, qtys = ctx.units, ctx.qtys
    for k, us in got.items():
        part = parts[k] = []
        for u in us:
            for i in units[u]:
                part.append((i, qtys[i]))
    split_from: dict[int, list[str]] = {}
    if remaining and pol.split_lines:
        remaining = _split_lines(ctx, remaining, order, used, work, budget, alloc, split_from)
    if remaining:
        _leftovers(ctx, remaining, used, budget, alloc)
    _explain(ctx, alloc, order, keys, got, split_from, consolidated)
    return alloc


def _mask(row, units: list[int]) -> int:
    m = 0
    for u in units:
        if row[u]:
            m |= 1 << u
    return m


def _split_lines(ctx, remaining, order, used, work, budget, alloc, split_from) -> list[int]:
    """Ship the units of single lines that no site has whole from several sites: sites
    already in the plan first, then in policy order. Returns the units still left."""
    left = []
    no_carrier = ctx.no_carrier
    for u in remaining:
        # A line no carrier takes whole stays whole: split, it would join other packages.
        if len(ctx.units[u]) != 1 or no_carrier is not None and no_carrier[:, u].any():
            left.append(u)
            continue
        i = ctx.units[u][0]
        d, want = ctx.line_d[i], ctx.qtys[i]
        blocked = None
        for k in used + [k for k in order if k not in used]:
            if not want:
                break
            have = work[k][d]
            if have <= 0:
                continue
            if k not in used and len(used) >= budget:
                blocked = blocked if blocked is not None else k
                continue
            q = min(have, want)
            work[k][d] -= q
            want -= q
            alloc.add(k, i, q)
            split_from.setdefault(k, []).append(f"{q} of line {ctx.lines[i].line_no}")
            if k not in used:
                used.append(k)
        if want:
            if blocked is not None:
                reason = f"max_splits={budget} reached: {ctx.network.ids[blocked]} has it"
            else:
                reason = ctx.shortfall_reason(i, ctx.qtys[i])
            alloc.unfilled.append((i, want, reason))
    return left


def _leftovers(ctx, remaining, used, budget, alloc) -> None:
    pol = ctx.policy
    eligible = ctx.eligible
    for u in remaining:
        members = ctx.units[u]
        could = [k for k in np.flatnonzero(ctx.fill[:, u] & eligible)]
        for i in members:
            q = int(ctx.qty[i])
            if could and len(used) >= budget:
                reason = f"max_splits={pol.max_splits} reached: {ctx.network.ids[could[0]]} has it"
            elif could:
                reason = "its stock at the eligible sites went to other lines of this order"
            elif ctx.no_carrier is not None and ctx.no_carrier[:, u].any():
                reason = NO_CARRIER
            elif len(members) > 1 and (ctx.fill[:, [u]].any() or _line_ok(ctx, i)):
                nums = ",".join(str(ctx.lines[j].line_no) for j in members)
                reason = f"lines {nums} ship together and no eligible site has them all"
            else:
                reason = ctx.shortfall_reason(i, q)
            alloc.unfilled.append((i, q, reason))


def _line_ok(ctx: OrderContext, i: int) -> bool:
    d = ctx.line_d[i]
    return bool((ctx.avail[ctx.eligible, d] >= ctx.qty[i]).any())


def _explain(ctx, alloc, order, keys, got, split_from, consolidated) -> None:
    pol, net = ctx.policy, ctx.network
    alloc.why = _RuleWhy(ctx, order, keys, got, split_from, consolidated)
    sites = sorted(alloc.parts, key=order.index) if len(alloc.parts) > 1 else alloc.parts
    n = len(sites)
    head = f"{n} shipment{'s' * (n != 1)}"
    if sites:
        head += " from " + ", ".join([net.ids[k] for k in sites])
    tail = f"; {len(alloc.unfilled)} line(s) back-ordered" if alloc.unfilled else ""
    rules = _RULES_TEXT.get(pol.rules)
    if rules is None:
        rules = _RULES_TEXT[pol.rules] = f"; rules {' > '.join(pol.rules)}"
    alloc.summary = f"{head}{tail}{rules}"


_RULES_TEXT: dict[tuple[str, ...], str] = {}


class _RuleWhy:
    """Why each site won or lost under a rule policy, worded when asked. Holds only what
    the wording needs (never the OrderContext), and works it out on the first question:
    routing a stream reads none of it."""

    def __init__(self, ctx, order, keys, got, split_from, consolidated) -> None:
        self.keys, self.got, self.split_from, self.consolidated = (
            keys,
            got,
            split_from,
            consolidated,
        )
        self._ctx = (ctx.policy.sorts, ctx.network.ids, order, ctx.fill, ctx.units, ctx.lines)
        self._position: dict[int, int] | None = None

    @property
    def sorts(self) -> tuple[str, ...]:
        return self._ctx[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ctx[1]

    @property
    def fill(self) -> np.ndarray:
        return self._ctx[3]

    @property
    def units(self):
        return self._ctx[4]

    @property
    def lines(self):
        return self._ctx[5]

    @property
    def position(self) -> dict[int, int]:
        if self._position is None:
            self._position = {k: n for n, k in enumerate(self._ctx[2])}
        return self._position

    @property
    def n_units(self) -> int:
        return len(self.units)

    def label(self, u: int) -> str:
        nums = ",".join(str(self.lines[i].line_no) for i in self.units[u])
        return f"line {nums}" if len(self.units[u]) == 1 else f"group {nums}"

    def kt(self, k: int) -> str:
        return ", ".join(key_text(n, self.keys[n][k]) for n in self.sorts[:2])

    def __call__(self, k: int) -> str:
        got, split = self.got, self.split_from
        if k not in self.position:
            return "not eligible"
        if k in got:
            labels = ", ".join(self.label(u) for u in got[k])
            if self.consolidated:
                n = len(got)
                how = f"fewest shipments ({n} site{'s' * (n > 1)}), then {self.kt(k)}"
            else:
                how = f"first in order with the stock ({self.kt(k)})"
            text = f"ships {labels}: {how}"
            if k in split:
                text += f"; split: {', '.join(split[k])}"
            return text
        if k in split:
            return f"ships {', '.join(split[k])}: no site has the whole line"
        can = np.flatnonzero(self.fill[k])
        if not len(can):
            return f"cannot ship any line whole ({self.kt(k)})"
        winner = {u: w for w, us in got.items() for u in us}
        rivals = sorted({winner[u] for u in can if u in winner}, key=self.position.get)
        if not rivals:
            return f"not needed or over max_splits ({self.kt(k)})"
        r = rivals[0]
        if self.consolidated:
            return (
                f"could ship {len(can)}/{self.n_units}; {self.ids[r]} made the plan with "
                f"fewer shipments or came first ({self.kt(r)} vs {self.kt(k)})"
            )
        return f"{self.ids[r]} came first ({self.kt(r)} vs {self.kt(k)})"
