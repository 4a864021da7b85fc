"""Packages and cartons: start another package, move units between packages, suggest and
choose a carton, and the weight a package should have."""

from __future__ import annotations

from station.packing.base import ServiceBase
from station.packing.cartons import Box, Item, suggest_carton
from station.packing.errors import Refused
from station.packing.model import PackageView
from station.packing.operators import Operator
from station.store.db import tx
from station.store.outbox import now_iso


class Packages(ServiceBase):
    def new_package(self, order_id: str, operator: Operator) -> PackageView:
        """Start another package; new scans go into it."""
        order = self.view(order_id)
        current = order.current_package
        if current.status == "open" and current.unit_count == 0:
            raise Refused(
                f"Package {current.package_no} is still empty: fill it first.", kind="package"
            )
        number = max(p.package_no for p in order.packages) + 1
        with tx(self.db):
            self._insert_package(order_id, number)
            self._event("package_opened", operator, order_id=order_id, package_no=number)
        return self.view(order_id).current_package

    def move_units(
        self, order_id: str, line_id: int, to_package_no: int, operator: Operator, qty: int = 1
    ) -> str:
        """Move ``qty`` units of a line from wherever they are into another open package."""
        order = self.view(order_id)
        target = next((p for p in order.packages if p.package_no == to_package_no), None)
        if target is None or target.status != "open":
            raise Refused(f"Package {to_package_no} is not open.", kind="package")
        rows = self.db.execute(
            "SELECT s.scan_id, s.qty, s.package_id FROM scans s JOIN packages p "
            "ON p.package_id = s.package_id WHERE s.line_id = ? AND s.undone = 0 "
            "AND s.package_id != ? AND p.status = 'open' ORDER BY s.scan_id DESC",
            [line_id, target.package_id],
        ).fetchall()
        if sum(r[1] for r in rows) < qty:
            raise Refused(
                "Not that many units of this line in other open packages.", kind="package"
            )
        line = order.line(line_id)
        left = qty
        with tx(self.db):
            for scan_id, scan_qty, _ in rows:
                if left == 0:
                    break
                take = min(left, scan_qty)
                if take == scan_qty:
                    self.db.execute(
                        "UPDATE scans SET package_id = ? WHERE scan_id = ?",
                        [target.package_id, scan_id],
                    )
                else:
                    self.db.execute(
                        "UPDATE scans SET qty = qty - ? WHERE scan_id = ?", [take, scan_id]
                    )
                    self.db.execute(
                        "INSERT INTO scans (order_id, line_id, package_id, qty, raw, lot, "
                        "expiry, serial, operator, at) SELECT order_id, line_id, ?, ?, raw, "
                        "lot, expiry, serial, ?, ? FROM scans WHERE scan_id = ?",
                        [target.package_id, take, operator.badge, now_iso(), scan_id],
                    )
                left -= take
            self._event(
                "units_moved",
                operator,
                order_id=order_id,
                line_no=line.line_no,
                qty=qty,
                to_package_no=to_package_no,
            )
        return f"Moved {qty} × {line.name} to package {to_package_no}"

    def cartons(self) -> list[Box]:
        return [
            Box(r[0], r[1], r[2], r[3], r[4], r[5])
            for r in self.db.execute(
                "SELECT code, length_mm, width_mm, height_mm, tare_g, max_weight_g FROM cartons"
            ).fetchall()
        ]

    def is_carton(self, code: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM cartons WHERE code = ?", [code]).fetchone() is not None
        )

    def suggest_carton(self, order_id: str, package_id: int) -> str | None:
        items = [
            Item(r[0], r[1], r[2], r[3], r[4])
            for r in self.db.execute(
                "SELECT k.length_mm, k.width_mm, k.height_mm, k.weight_g, sum(s.qty) "
                "FROM scans s JOIN order_lines l ON l.line_id = s.line_id "
                "JOIN skus k ON k.sku = l.sku WHERE s.package_id = ? AND s.undone = 0 "
                "GROUP BY k.sku",
                [package_id],
            ).fetchall()
        ]
        box = suggest_carton(items, self.cartons())
        return box.code if box else None

    def set_carton(self, order_id: str, package_id: int, code: str, operator: Operator) -> str:
        row = self.db.execute("SELECT name FROM cartons WHERE code = ?", [code]).fetchone()
        if row is None:
            raise Refused(f"{code!r} is not a carton we use.", kind="carton")
        package = self.view(order_id).package(package_id)
        if package.status == "labelled":
            raise Refused("That parcel is already labelled: void the label first.", kind="carton")
        with tx(self.db):
            # A new carton changes the expected weight: any earlier reading no longer counts.
            self.db.execute(
                "UPDATE packages SET carton_code = ?, status = CASE WHEN status = 'weighed' "
                "THEN 'open' ELSE status END, weight_g = NULL, weight_ok = NULL, "
                "expected_g = NULL, override_by = NULL WHERE package_id = ?",
                [code, package_id],
            )
            self._event(
                "carton_chosen",
                operator,
                order_id=order_id,
                package_no=package.package_no,
                carton=code,
            )
        return f"Package {package.package_no}: carton {row[0]}"

    def expected_weight(self, package_id: int) -> float:
        items = self.db.execute(
            "SELECT coalesce(sum(s.qty * k.weight_g), 0) FROM scans s "
            "JOIN order_lines l ON l.line_id = s.line_id JOIN skus k ON k.sku = l.sku "
            "WHERE s.package_id = ? AND s.undone = 0",
            [package_id],
        ).fetchone()[0]
        tare = self.db.execute(
            "SELECT coalesce(c.tare_g, 0) FROM packages p LEFT JOIN cartons c "
            "ON c.code = p.carton_code WHERE p.package_id = ?",
            [package_id],
        ).fetchone()[0]
        return float(items + tare)
