"""Read models of an order being packed: what the screen shows, built from the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlite_utils


@dataclass(slots=True)
class LineView:
    line_id: int
    line_no: int
    sku: str
    name: str
    qty: int
    scanned: int
    short: int
    short_reason: str | None
    tracking: str
    qty_keyable: bool
    weight_g: float

    @property
    def remaining(self) -> int:
        return self.qty - self.scanned - self.short

    @property
    def done(self) -> bool:
        return self.remaining <= 0


@dataclass(slots=True)
class PackageView:
    package_id: int
    package_no: int
    carton_code: str | None
    status: str
    expected_g: float | None
    weight_g: float | None
    weight_ok: bool | None
    override_by: str | None
    sscc: str | None
    tracking_number: str | None
    units: dict[int, int] = field(default_factory=dict)  # line_id -> units in this package

    @property
    def unit_count(self) -> int:
        return sum(self.units.values())


@dataclass(slots=True)
class OrderView:
    order_id: str
    order_ref: str
    status: str
    hold_reason: str | None
    ship_to: dict[str, str]
    carrier: str
    service: str
    ship_by: str
    priority: int
    tote: str | None
    lines: list[LineView]
    packages: list[PackageView]

    @property
    def all_resolved(self) -> bool:
        return all(line.done for line in self.lines)

    @property
    def units_total(self) -> int:
        return sum(line.qty for line in self.lines)

    @property
    def units_scanned(self) -> int:
        return sum(line.scanned for line in self.lines)

    @property
    def current_package(self) -> PackageView:
        """The package new scans go into: the last one that is still open."""
        open_ = [p for p in self.packages if p.status == "open"]
        return open_[-1] if open_ else self.packages[-1]

    def line(self, line_id: int) -> LineView:
        return next(line for line in self.lines if line.line_id == line_id)

    def package(self, package_id: int) -> PackageView:
        return next(p for p in self.packages if p.package_id == package_id)

    @property
    def shippable_packages(self) -> list[PackageView]:
        return [p for p in self.packages if p.status != "void" and p.unit_count > 0]

    @property
    def stage(self) -> str:
        """scan -> weigh -> done; 'hold' when the order is on hold."""
        if self.status == "on_hold":
            return "hold"
        if self.status == "packed":
            return "done"
        if not self.all_resolved:
            return "scan"
        return "weigh"

    @property
    def package_to_weigh(self) -> PackageView | None:
        for p in self.shippable_packages:
            if p.status != "labelled":
                return p
        return None


def load_order(db: sqlite_utils.Database, order_id: str) -> OrderView | None:
    row = db.execute(
        "SELECT order_id, order_ref, status, hold_reason, ship_to, carrier, service, ship_by, "
        "priority, tote FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return None
    scanned: dict[int, int] = {}
    per_package: dict[int, dict[int, int]] = {}
    for line_id, package_id, qty in db.execute(
        "SELECT line_id, package_id, sum(qty) FROM scans WHERE order_id = ? AND undone = 0 "
        "GROUP BY line_id, package_id",
        [order_id],
    ).fetchall():
        scanned[line_id] = scanned.get(line_id, 0) + qty
        per_package.setdefault(package_id, {})[line_id] = qty
    lines = [
        LineView(
            line_id=r[0],
            line_no=r[1],
            sku=r[2],
            name=r[3],
            qty=r[4],
            scanned=scanned.get(r[0], 0),
            short=r[5],
            short_reason=r[6],
            tracking=r[7],
            qty_keyable=bool(r[8]),
            weight_g=r[9],
        )
        for r in db.execute(
            "SELECT l.line_id, l.line_no, l.sku, s.name, l.qty, l.qty_short, l.short_reason, "
            "s.tracking, s.qty_keyable, s.weight_g FROM order_lines l "
            "JOIN skus s ON s.sku = l.sku WHERE l.order_id = ? ORDER BY l.line_no",
            [order_id],
        ).fetchall()
    ]
    packages = [
        PackageView(
            package_id=r[0],
            package_no=r[1],
            carton_code=r[2],
            status=r[3],
            expected_g=r[4],
            weight_g=r[5],
            weight_ok=None if r[6] is None else bool(r[6]),
            override_by=r[7],
            sscc=r[8],
            tracking_number=r[9],
            units=per_package.get(r[0], {}),
        )
        for r in db.execute(
            "SELECT package_id, package_no, carton_code, status, expected_g, weight_g, "
            "weight_ok, override_by, sscc, tracking_number FROM packages "
            "WHERE order_id = ? ORDER BY package_no",
            [order_id],
        ).fetchall()
    ]
    return OrderView(
        order_id=row[0],
        order_ref=row[1],
        status=row[2],
        hold_reason=row[3],
        ship_to=json.loads(row[4]),
        carrier=row[5],
        service=row[6],
        ship_by=row[7],
        priority=row[8],
        tote=row[9],
        lines=lines,
        packages=packages,
    )
