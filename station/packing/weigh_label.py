"""Weighing and labels: a stable reading within tolerance (or a lead's override) queues the
package's label and, with the last package, packs the order; reprint and void a label."""

from __future__ import annotations

from dataclasses import dataclass

from station.packing import labelling
from station.packing.errors import Refused
from station.packing.operators import Operator
from station.packing.packages import Packages
from station.packing.weighing import WeightCheck, check_weight
from station.store.db import tx
from station.store.outbox import now_iso


@dataclass(frozen=True, slots=True)
class WeighOutcome:
    package_id: int
    check: WeightCheck
    labelled: bool  # a label job was queued
    order_packed: bool


class WeighAndLabel(Packages):
    """Builds on :class:`Packages`: the expected weight is the contents plus the carton."""

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
        self._void_empty(order_id)
        return self._finish_if_done(order_id, operator)

    def _void_empty(self, order_id: str) -> None:
        # Packages that ended up empty (items moved out, scans undone) are not shipped.
        self.db.execute(
            "UPDATE packages SET status = 'void' WHERE order_id = ? AND status != 'void' "
            "AND NOT EXISTS (SELECT 1 FROM scans s WHERE s.package_id = packages.package_id "
            "AND s.undone = 0)",
            [order_id],
        )

    def _finish_if_done(self, order_id: str, operator: Operator) -> bool:
        """Pack the order when every line is resolved and every parcel with units in it is
        labelled; True when it did. Call inside the caller's transaction: after a label, and
        after anything else that can leave the order so (a short marked once the other
        parcels were labelled)."""
        order = self.view(order_id)
        if order.status != "packing" or not order.all_resolved:
            return False
        if not order.shippable_packages or any(
            p.status != "labelled" for p in order.shippable_packages
        ):
            return False
        self._void_empty(order_id)
        order = self.view(order_id)
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
