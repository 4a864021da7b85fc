"""The pack screen's weighing and label actions: the weigh panel, capturing a stable
reading, a lead's override (badge or F11), accepting the suggested carton, and reprinting
or voiding the last label. A mixin of :class:`~station.screens.pack.PackScreen`."""

from __future__ import annotations

import time

from drivers.base import Weight
from station.packing.errors import Refused
from station.packing.operators import find_operator
from station.widgets.side import WeighPanel


class WeighAndLabelActions:
    """Mixed into PackScreen: uses its ``order``, ``last_packed``, ``reading``, ``capture``,
    ``blocked``, ``say``, ``refresh_view``, ``open_next``, ``_open``, ``_package_in_focus``
    and ``_guard``."""

    def _update_weigh_panel(self) -> None:
        order = self.order
        prompt, blocked = "", False
        if order is not None and order.stage == "weigh":
            package = order.package_to_weigh
            if package is not None:
                if package.carton_code is None:
                    prompt = f"Package {package.package_no}: scan its carton (F7: suggested)."
                elif package.status == "weighed" and not package.weight_ok:
                    blocked = True
                    prompt = (
                        f"Package {package.package_no}: {package.weight_g:,.0f} g, expected "
                        f"{package.expected_g:,.0f} g. Label blocked: fix the contents "
                        "and weigh again, or a lead scans their badge (F11)."
                    )
                else:
                    expected = self.app.service.expected_weight(package.package_id)
                    prompt = (
                        f"Put package {package.package_no} on the scale "
                        f"(expected about {expected:,.0f} g)."
                    )
        elif order is not None and order.stage == "scan":
            prompt = "Scan the items."
        self.blocked = blocked
        self.query_one(WeighPanel).show(self.reading, prompt, blocked)

    def _maybe_lead_badge(self, text: str) -> bool:
        found = find_operator(self.app.db, text)
        if found is None:
            return False
        lead, pin_hash = found
        if not self.blocked:
            raise Refused(f"That is {lead.name}'s badge: nothing to approve now.", kind="badge")
        if pin_hash is not None or self.app.config.login.require_pin:
            from station.screens.dialogs import OverrideDialog

            self.app.push_screen(OverrideDialog(badge=text), self._override_result)
            return True
        self._override(lead)
        return True

    # -- weighing -----------------------------------------------------------------------
    def scale_reading(self, weight: Weight) -> None:
        self.reading = weight
        if not self.ready:
            return
        order = self.order
        if order is None or order.stage != "weigh" or self.app.screen is not self:
            self._update_weigh_panel()
            return
        package = order.package_to_weigh
        captured = self.capture.feed(weight, time.monotonic())
        if captured is not None and package is not None and package.carton_code is not None:
            self._weigh(package.package_id, captured)
        self._update_weigh_panel()

    def _weigh(self, package_id: int, grams: float) -> None:
        service = self.app.service
        try:
            outcome = service.record_weight(
                self.order.order_id, package_id, grams, self.app.operator
            )
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        if outcome.labelled:
            self.app.print_jobs_queued()
        self._after_label(outcome.order_packed, outcome.check.describe())
        if not outcome.check.ok:
            self.say(outcome.check.describe(), "bad")

    def _after_label(self, packed: bool, detail: str) -> None:
        if packed:
            self.last_packed = self.order.order_id
            ref = self.order.order_ref
            self.open_next()
            self.say(f"✔ {ref} packed ({detail}). Label printing. Next order is open.")
        else:
            self.refresh_view()
            self.say(f"Label printing ({detail}).")

    def _override(self, lead) -> None:
        package = self.order.package_to_weigh if self.order else None
        if package is None:
            return
        try:
            outcome = self.app.service.override_weight(
                self.order.order_id, package.package_id, lead, self.app.operator
            )
        except Refused as exc:
            self.say(str(exc), "bad")
            return
        self.app.print_jobs_queued()
        self._after_label(outcome.order_packed, f"weight approved by {lead.name}")

    def _override_result(self, lead) -> None:
        if lead is not None:
            self._override(lead)

    def action_accept_carton(self) -> None:
        def accept() -> None:
            order = self._need_order()
            target = self._package_in_focus()
            if not self.suggestion or target is None:
                raise Refused("No carton suggestion: scan a carton barcode.", kind="carton")
            self.say(
                self.app.service.set_carton(
                    order.order_id, target.package_id, self.suggestion, self.app.operator
                )
            )
            self.capture.reset()
            self.refresh_view()

        self._guard(accept)

    def _labelled_target(self):
        """The package whose label F8/F9 act on: last labelled of this order, else of the
        order packed just before."""
        service = self.app.service
        for order_id in filter(None, (self.order and self.order.order_id, self.last_packed)):
            order = service.view(order_id)
            labelled = [p for p in order.packages if p.status == "labelled"]
            if labelled:
                return order, labelled[-1]
        raise Refused("No label to act on yet.", kind="label")

    def action_reprint(self) -> None:
        def reprint() -> None:
            order, package = self._labelled_target()
            self.say(
                self.app.service.reprint(order.order_id, package.package_id, self.app.operator),
                "info",
            )
            self.app.print_jobs_queued()

        self._guard(reprint)

    def action_void(self) -> None:
        def void() -> None:
            order, package = self._labelled_target()
            message = self.app.service.void_label(
                order.order_id, package.package_id, self.app.operator
            )
            if self.order is None or self.order.order_id != order.order_id:
                self._open(order.order_id)
            self.capture.reset()
            self.refresh_view()
            self.say(message + ". Weigh it again for a new label.", "info")

        self._guard(void)

    def action_override(self) -> None:
        from station.screens.dialogs import OverrideDialog

        if not self.blocked:
            self.say("Nothing to override: no weight is blocking a label.", "bad")
            return
        self.app.push_screen(OverrideDialog(), self._override_result)
