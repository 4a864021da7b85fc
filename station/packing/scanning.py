"""Verifying the items: a scan is matched to a SKU and a line of the open order, checked
(wrong item, over-scan, lot, expiry, serial, keyed quantity) and counted; or undone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from station.packing.barcodes import ParsedScan, parse_scan
from station.packing.base import ServiceBase
from station.packing.errors import Refused
from station.packing.operators import Operator
from station.store.db import tx
from station.store.outbox import now_iso


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    line_id: int
    sku: str
    qty: int
    message: str


class Scanning(ServiceBase):
    def classify(self, raw: str) -> ParsedScan:
        return parse_scan(raw, self.config.separator_chars)

    def scan_item(
        self, order_id: str, scan: ParsedScan, operator: Operator, qty: int | None = None
    ) -> ScanOutcome:
        """Count one scanned item (or a keyed ``qty`` of it) against the open order.

        Raises Refused for an unknown barcode, a wrong item, an over-scan, a missing lot or
        serial, an expired lot, a repeated serial, or a quantity the SKU does not allow.
        """
        sku, units = self._match_sku(scan)
        order = self.view(order_id)
        if order.status != "packing":
            # e.g. cancelled by the hub a moment ago, or put on hold
            raise Refused(
                f"Order {order.order_ref} is {order.status.replace('_', ' ')}: "
                "it cannot take items now.",
                kind="order_state",
            )
        lines = [line for line in order.lines if line.sku == sku]
        if not lines:
            name = self._sku_name(sku)
            raise Refused(
                f"Wrong item: {name} ({sku}) is not in this order. Put it back.",
                kind="wrong_item",
            )
        if qty is not None:
            if not lines[0].qty_keyable:
                raise Refused(
                    f"{lines[0].name}: quantity cannot be keyed for this item; scan each unit.",
                    kind="qty",
                )
            if qty < 1 or qty > self.config.packing.max_keyed_qty:
                raise Refused(f"Quantity {qty} is not allowed.", kind="qty")
            units *= qty
        line = next((ln for ln in lines if ln.remaining >= units), None)
        if line is None:
            left = sum(ln.remaining for ln in lines)
            raise Refused(
                f"Too many: {lines[0].name} needs {left} more, this scan is {units}. "
                "Put the extra back.",
                kind="over_scan",
            )
        self._check_tracking(line.tracking, line.name, sku, scan, units)
        package = order.current_package
        if package.status != "open":
            raise Refused("The current package is already closed.", kind="package")
        with tx(self.db):
            self.db.execute(
                "INSERT INTO scans (order_id, line_id, package_id, qty, raw, lot, expiry, "
                "serial, operator, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    order_id,
                    line.line_id,
                    package.package_id,
                    units,
                    scan.raw,
                    scan.lot,
                    scan.expiry.isoformat() if scan.expiry else None,
                    scan.serial,
                    operator.badge,
                    now_iso(),
                ],
            )
            self._event(
                "item_scanned",
                operator,
                order_id=order_id,
                line_no=line.line_no,
                sku=sku,
                qty=units,
                package_no=package.package_no,
                lot=scan.lot,
                serial=scan.serial,
                expiry=scan.expiry.isoformat() if scan.expiry else None,
            )
        left = line.remaining - units
        return ScanOutcome(
            line.line_id,
            sku,
            units,
            f"✔ {line.name} ({units})" + (f" — {left} more" if left else " — line complete"),
        )

    def _match_sku(self, scan: ParsedScan) -> tuple[str, int]:
        # The SKU's own label first: it may be numeric and look like a bad GTIN.
        row = self.db.execute(
            "SELECT sku, units FROM barcodes WHERE code = ?", [scan.text]
        ).fetchone()
        if row is None and scan.gtin14:
            row = self.db.execute(
                "SELECT sku, units FROM barcodes WHERE code = ?", [scan.gtin14]
            ).fetchone()
        if row is not None:
            return row[0], row[1] * (scan.count or 1)
        if scan.error:
            raise Refused(f"Barcode not valid ({scan.error}). Scan it again.", kind="bad_barcode")
        shown = scan.text if len(scan.text) <= 40 else scan.text[:37] + "..."
        raise Refused(f"Unknown barcode {shown!r}: not an item we stock.", kind="unknown")

    def _check_tracking(
        self, tracking: str, name: str, sku: str, scan: ParsedScan, units: int
    ) -> None:
        if tracking in ("lot", "lot_expiry") and not scan.lot:
            raise Refused(
                f"{name} is lot-tracked: scan the GS1 barcode that carries the lot (10).",
                kind="tracking",
            )
        if tracking == "lot_expiry":
            if scan.expiry is None:
                raise Refused(
                    f"{name} needs its expiry date: scan the GS1 barcode with (17).",
                    kind="tracking",
                )
            if scan.expiry < dt.date.today():
                raise Refused(
                    f"{name} lot {scan.lot} expired on {scan.expiry}: do not ship it.",
                    kind="expired",
                )
        if tracking == "serial":
            if not scan.serial:
                raise Refused(
                    f"{name} is serialised: scan the barcode with the serial (21).", kind="tracking"
                )
            if units != 1:
                raise Refused(f"{name} is serialised: scan each unit.", kind="tracking")
            dup = self.db.execute(
                "SELECT s.order_id FROM scans s JOIN order_lines l ON l.line_id = s.line_id "
                "WHERE s.serial = ? AND s.undone = 0 AND l.sku = ? LIMIT 1",
                [scan.serial, sku],
            ).fetchone()
            if dup is not None:
                raise Refused(
                    f"Serial {scan.serial} was already scanned (order {dup[0]}).",
                    kind="duplicate_serial",
                )

    def _sku_name(self, sku: str) -> str:
        row = self.db.execute("SELECT name FROM skus WHERE sku = ?", [sku]).fetchone()
        return row[0] if row else sku

    def undo_last_scan(self, order_id: str, operator: Operator) -> str:
        """Take back the last counted scan of the order. Returns what was undone."""
        row = self.db.execute(
            "SELECT s.scan_id, s.qty, k.name, l.line_no, p.status, p.package_id FROM scans s "
            "JOIN order_lines l ON l.line_id = s.line_id JOIN skus k ON k.sku = l.sku "
            "JOIN packages p ON p.package_id = s.package_id "
            "WHERE s.order_id = ? AND s.undone = 0 ORDER BY s.scan_id DESC LIMIT 1",
            [order_id],
        ).fetchone()
        if row is None:
            raise Refused("Nothing to undo.", kind="undo")
        scan_id, qty, name, line_no, package_status, package_id = row
        if package_status == "labelled":
            raise Refused("That parcel is already labelled: void the label first.", kind="undo")
        with tx(self.db):
            self.db.execute("UPDATE scans SET undone = 1 WHERE scan_id = ?", [scan_id])
            # The contents changed: a reading taken before no longer counts.
            self.db.execute(
                "UPDATE packages SET status = 'open', weight_g = NULL, weight_ok = NULL, "
                "expected_g = NULL, override_by = NULL WHERE package_id = ? AND status = 'weighed'",
                [package_id],
            )
            self._event("scan_undone", operator, order_id=order_id, line_no=line_no, qty=qty)
        return f"Undone: {name} ({qty})"
