"""The pack screen's photos: F-key or ``CMD:`` barcode asks the camera for a photo of the
order or of the line in focus; the answer comes back through ``photo_taken``. A mixin of
:class:`~station.screens.pack.PackScreen`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from station.inspection import subject_text
from station.packing.errors import Refused
from station.widgets.order import OrderLines

if TYPE_CHECKING:
    from station.camera_worker import PhotoResult


class PhotoActions:
    """Mixed into PackScreen: uses its ``order``, ``photos_asked``, ``ready``, ``say``,
    ``devices_changed`` and ``_guard``."""

    def action_photo(self) -> None:
        def photo() -> None:
            order = self._need_order()
            subject = f"order/{order.order_id}"
            line = self._line_in_focus()
            if line is not None:
                subject = f"line/{order.order_id}/{line.line_no}"
            request = self.app.take_photo(subject)
            if request is None:
                raise Refused(
                    "No camera here: set [devices] camera in the station configuration.",
                    kind="camera",
                )
            self.photos_asked.add(request.token)
            self.say(f"Taking a photo of {subject_text(subject)}…", "info")

        self._guard(photo)

    def _line_in_focus(self):
        """The line under the cursor when the packer moved into the lines table (Tab or a
        click); None while scanning, when a photo is of the whole order."""
        table = self.query_one(OrderLines)
        if self.order is None or not table.has_focus or not self.order.lines:
            return None
        return self.order.lines[min(table.cursor_row, len(self.order.lines) - 1)]

    def photo_taken(self, result: PhotoResult) -> None:
        """The camera answered; only requests made here are this screen's to show."""
        if result.request.token not in self.photos_asked:
            return
        self.photos_asked.discard(result.request.token)
        if not self.ready:
            return
        stored = result.stored
        if stored is None:
            self.say(f"No photo: {result.error}", "bad")
            self.devices_changed()
            return
        what = subject_text(stored.subject)
        if stored.created:
            self.say(f"📷 Photo {stored.sha256[:12]} saved: {what}.")
        else:
            self.say(f"That picture was saved before ({stored.sha256[:12]}, {stored.subject}).")
        self.devices_changed()
