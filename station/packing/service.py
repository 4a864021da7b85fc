"""Packing, as the station does it: every call is one transaction of state change + event.

``PackingService`` is what the screens call. Each method either changes the database and
writes the matching outbox event in one ``db.atomic()`` block and returns what happened,
or changes nothing and raises :class:`Refused` with words for the packer. Nothing here
waits on a device or the network: a confirmed scan is on disk when the call returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlite_utils

from station.config import StationConfig
from station.packing import labelling
from station.packing.barcodes import ParsedScan, parse_scan
from station.packing.cartons import Box, Item, suggest_carton
from station.packing.errors import Refused
from station.packing.model import OrderView, PackageView, load_order
from station.packing.operators import Operator
from station.packing.weighing import WeightCheck, check_weight
from station.store.db import tx
from station.store.outbox import now_iso, record_event

SHORT_REASONS = ("missing", "damaged", "wrong_item_picked", "other")


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    line_id: int
    sku: str
    qty: int
    message: str


@dataclass(frozen=True, slots=True)
class WeighOutcome:
    package_id: int
    check: WeightCheck
    labelled: bool  # a label job was queued
    order_packed: bool


class PackingService:
    def __init__(self, db: sqlite_utils.Database, config: StationConfig) -> None:
        self.db = db
        self.config = config
        self.station_id = config.station_id

    # -- events -------------------------------------------------------------------------
    def _event(self, type_: str, operator: Operator | None, **payload: object) -> int:
        if operator is not None:
            payload["operator"] = operator.badge
        return record_event(self.db, self.station_id, type_, payload)

    def log_in(self, operator: Operator) -> None:
        with tx(self.db):
            self._event("operator_logged_in", operator, role=operator.role)

    def log_out(self, operator: Operator, reason: str = "logout") -> None:
        with tx(self.db):
            self._event("operator_logged_out", operator, reason=reason)

    # -- the queue ----------------------------------------------------------------------
    def next_order(self) -> str | None:
        """The order to pack next: one already being packed, else by ship-by then priority."""
        row = self.db.execute(
            "SELECT order_id FROM orders WHERE status IN ('packing', 'assigned') "
            "ORDER BY status = 'packing' DESC, ship_by, priority DESC, assigned_at, order_id "
            "LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def queue_depth(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM orders WHERE status IN ('packing', 'assigned')"
        ).fetchone()[0]

    def find_order(self, code: str) -> str | None:
        """An order by its id, channel reference, tote or pick-list barcode."""
        code = code.strip()
        row = self.db.execute(
            "SELECT order_id FROM orders WHERE order_id = ?1 OR order_ref = ?1 OR tote = ?1 "
            "OR pick_list = ?1 ORDER BY status IN ('packing', 'assigned') DESC, ship_by LIMIT 1",
            [code],
        ).fetchone()
        return row[0] if row else None

    def open_order(self, order_id: str, operator: Operator) -> OrderView:
        """Start (or resume) packing ``order_id``. Raises Refused when it cannot be packed."""
        order = self.view(order_id)
        if order.status == "packed":
            raise Refused(f"Order {order.order_ref} is already packed.", kind="order_state")
        if order.status == "cancelled":
            raise Refused(
                f"Order {order.order_ref} was cancelled: put it aside.", kind="order_state"
            )
        if order.status == "on_hold":
            raise Refused(
                f"Order {order.order_ref} is on hold ({order.hold_reason}). Give it to your lead.",
                kind="order_state",
            )
        with tx(self.db):
            if order.status == "assigned":
                self.db.execute(
                    "UPDATE orders SET status = 'packing' WHERE order_id = ?", [order_id]
                )
            if not order.packages:
                self._insert_package(order_id, 1)
            self._event("order_opened", operator, order_id=order_id)
        return self.view(order_id)

    def view(self, order_id: str) -> OrderView:
        order = load_order(self.db, order_id)
        if order is None:
            raise Refused(f"No order {order_id} at this station.", kind="unknown")
        return order

    # -- scanning -----------------------------------------------------------------------
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

    # -- exceptions ---------------------------------------------------------------------
    def short_line(
        self,
        order_id: str,
        line_id: int,
        reason: str,
        operator: Operator,
        qty: int | None = None,
    ) -> OrderView:
        """Mark ``qty`` (default: all still missing) of a line short, then apply the policy.

        With policy ``hold`` the order goes on hold for a lead; with ``ship_partial`` it
        goes on with what is there (or on hold if nothing at all can ship).
        """
        if reason not in SHORT_REASONS:
            raise Refused(f"Short reason must be one of {', '.join(SHORT_REASONS)}.", kind="short")
        order = self.view(order_id)
        line = order.line(line_id)
        qty = line.remaining if qty is None else qty
        if qty < 1 or qty > line.remaining:
            raise Refused(
                f"{line.name}: {line.remaining} can be marked short, not {qty}.", kind="short"
            )
        with tx(self.db):
            self.db.execute(
                "UPDATE order_lines SET qty_short = qty_short + ?, short_reason = ? "
                "WHERE line_id = ?",
                [qty, reason, line_id],
            )
            self._event(
                "line_short",
                operator,
                order_id=order_id,
                line_no=line.line_no,
                sku=line.sku,
                qty=qty,
                reason=reason,
            )
            # Nothing scanned and nothing left to scan: there is no parcel to ship.
            left = sum(ln.remaining for ln in order.lines) - qty
            nothing_to_ship = order.units_scanned == 0 and left == 0
            if self.config.packing.short_policy == "hold" or nothing_to_ship:
                why = f"short: {line.sku} x{qty} {reason}"
                self.db.execute(
                    "UPDATE orders SET status = 'on_hold', hold_reason = ? WHERE order_id = ?",
                    [why, order_id],
                )
                self._event("order_held", operator, order_id=order_id, reason=why)
        return self.view(order_id)

    # -- packages -----------------------------------------------------------------------
    def _insert_package(self, order_id: str, package_no: int) -> int:
        cur = self.db.execute(
            "INSERT INTO packages (order_id, package_no) VALUES (?, ?)", [order_id, package_no]
        )
        return int(cur.lastrowid)

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

    # -- weighing and labels ------------------------------------------------------------
    def record_weight(
        self, order_id: str, package_id: int, grams: float, operator: Operator
    ) -> WeighOutcome:
        """Record a stable reading for a package. Within tolerance, its label is queued and,
        when it was the last package, the order is packed, all in the same transaction."""
        order = self.view(order_id)
        if not order.all_resolved:
            raise Refused("Scan every item (or mark it short) before weighing.", kind="weigh")
        package = order.package(package_id)
        if package.carton_code is None:
            raise Refused(
                "Scan the carton barcode first (or press C for the suggestion).", kind="carton"
            )
        if package.status == "labelled":
            raise Refused(f"Package {package.package_no} is already labelled.", kind="weigh")
        check = check_weight(
            grams,
            self.expected_weight(package_id),
            self.config.packing.weight_tolerance_pct,
            self.config.packing.weight_tolerance_min_g,
        )
        with tx(self.db):
            self.db.execute(
                "UPDATE packages SET status = 'weighed', weight_g = ?, expected_g = ?, "
                "weight_ok = ?, override_by = NULL WHERE package_id = ?",
                [grams, check.expected_g, int(check.ok), package_id],
            )
            self._event(
                "package_weighed",
                operator,
                order_id=order_id,
                package_no=package.package_no,
                grams=grams,
                expected_g=check.expected_g,
                ok=check.ok,
            )
            packed = False
            if check.ok:
                packed = self._label_and_maybe_finish(order_id, package_id, operator)
        return WeighOutcome(package_id, check, check.ok, packed)

    def override_weight(
        self, order_id: str, package_id: int, lead: Operator, operator: Operator
    ) -> WeighOutcome:
        """A lead accepts an out-of-tolerance weight; the label is then queued."""
        if not lead.is_lead:
            raise Refused(f"{lead.name} is not a lead: only a lead can override.", kind="role")
        order = self.view(order_id)
        if not order.all_resolved:
            raise Refused("Scan every item (or mark it short) before weighing.", kind="weigh")
        package = order.package(package_id)
        if package.status != "weighed" or package.weight_g is None:
            raise Refused("Weigh the parcel first.", kind="weigh")
        check = check_weight(
            package.weight_g,
            package.expected_g or 0.0,
            self.config.packing.weight_tolerance_pct,
            self.config.packing.weight_tolerance_min_g,
        )
        with tx(self.db):
            self.db.execute(
                "UPDATE packages SET override_by = ? WHERE package_id = ?", [lead.badge, package_id]
            )
            self._event(
                "weight_overridden",
                operator,
                order_id=order_id,
                package_no=package.package_no,
                lead=lead.badge,
                grams=package.weight_g,
                expected_g=package.expected_g,
            )
            packed = self._label_and_maybe_finish(order_id, package_id, operator)
        return WeighOutcome(package_id, check, True, packed)

    def _label_and_maybe_finish(self, order_id: str, package_id: int, operator: Operator) -> bool:
        order = self.view(order_id)
        package = order.package(package_id)
        labelling.issue_label(self.db, self.config, order, package)
        self._event("label_queued", operator, order_id=order_id, package_no=package.package_no)
        order = self.view(order_id)
        # Packages that ended up empty (items moved out) are not shipped.
        for p in order.packages:
            if p.unit_count == 0 and p.status != "void":
                self.db.execute(
                    "UPDATE packages SET status = 'void' WHERE package_id = ?", [p.package_id]
                )
        if any(p.status != "labelled" for p in order.shippable_packages):
            return False
        labelling.queue_slip(self.db, self.config, order)
        self.db.execute(
            "UPDATE orders SET status = 'packed', packed_at = ? WHERE order_id = ?",
            [now_iso(), order_id],
        )
        self._event(
            "order_packed",
            operator,
            order_id=order_id,
            packages=[
                {
                    "package_no": p.package_no,
                    "sscc": p.sscc,
                    "tracking": p.tracking_number,
                    "carton": p.carton_code,
                    "grams": p.weight_g,
                }
                for p in order.shippable_packages
            ],
            short=[{"line_no": ln.line_no, "qty": ln.short} for ln in order.lines if ln.short],
            # What left in the parcels, per line: the hub's fact even when the channel cut
            # a line while this station was packing it.
            lines=[{"line_no": ln.line_no, "qty": ln.scanned} for ln in order.lines],
        )
        return True

    def reprint(self, order_id: str, package_id: int, operator: Operator) -> str:
        """Queue the same label again (same tracking number, same SSCC)."""
        package = self.view(order_id).package(package_id)
        if package.status != "labelled":
            raise Refused("That parcel has no label yet.", kind="reprint")
        with tx(self.db):
            labelling.requeue_label(self.db, package_id)
            self._event(
                "label_reprinted",
                operator,
                order_id=order_id,
                package_no=package.package_no,
                tracking=package.tracking_number,
            )
        return f"Reprinting label for package {package.package_no}"

    def void_label(self, order_id: str, package_id: int, operator: Operator) -> str:
        """Void a package's label: its tracking number is cancelled and the parcel must be
        weighed again for a new one. An order already packed goes back to packing."""
        order = self.view(order_id)
        package = order.package(package_id)
        if package.status != "labelled":
            raise Refused("That parcel has no label to void.", kind="void")
        with tx(self.db):
            labelling.cancel_jobs(self.db, package_id)
            self.db.execute(
                "UPDATE packages SET status = 'open', sscc = NULL, tracking_number = NULL, "
                "weight_g = NULL, weight_ok = NULL, override_by = NULL WHERE package_id = ?",
                [package_id],
            )
            if order.status == "packed":
                self.db.execute(
                    "UPDATE orders SET status = 'packing', packed_at = NULL WHERE order_id = ?",
                    [order_id],
                )
            self._event(
                "label_voided",
                operator,
                order_id=order_id,
                package_no=package.package_no,
                tracking=package.tracking_number,
                sscc=package.sscc,
            )
        return f"Label of package {package.package_no} voided ({package.tracking_number})"
