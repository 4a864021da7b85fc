"""One thread per printer draining its queue: ask the printer first, send, record.

The worker owns its own database connection (SQLite connections are not shared between
threads here) and reports every change through a plain callback; the app turns that into
a Textual message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import msgspec

from drivers.base import LabelPrinter, SlipDocument, SlipPrinter
from drivers.errors import DeliveryUncertain, DeviceError, PrinterFault
from station.printing import queue
from station.store.db import open_db

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


class PrintWorker(threading.Thread):
    """Drains the queue of one printer role (``label`` or ``slip``)."""

    def __init__(
        self,
        db_path: str | Path,
        role: str,
        open_printer: Callable[[], LabelPrinter | SlipPrinter],
        on_change: Callable[[str, str | None], None] = lambda role, error: None,
    ) -> None:
        super().__init__(name=f"print-{role}", daemon=True)
        self.db_path = db_path
        self.role = role
        # Opened on this thread: python-escpos takes a few hundred ms to import, which
        # must not delay the first screen.
        self.open_printer = open_printer
        self.printer: LabelPrinter | SlipPrinter | None = None
        self.on_change = on_change
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.last_error: str | None = None

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        try:
            self.printer = self.open_printer()
        except DeviceError as exc:
            self._report(str(exc))
            return
        db = open_db(self.db_path)
        failures = 0
        try:
            while not self._stopping.is_set():
                job = queue.next_queued(db, self.role)
                if job is None:
                    self._wait(2.0)
                    continue
                error = self._print_one(db, job)
                self._report(error)
                if error is None:
                    failures = 0
                else:
                    self._wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                    failures += 1
        finally:
            db.close()
            self.printer.close()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _report(self, error: str | None) -> None:
        if error != self.last_error or error is None:
            self.last_error = error
            self.on_change(self.role, error)

    def _print_one(self, db, job: queue.Job) -> str | None:
        who = "Label printer" if self.role == "label" else "Slip printer"
        if not queue.mark_sending(db, job.job_id):
            return None  # cancelled while we looked
        try:
            # The driver asks the printer first (ZPL ~HS, ESC/POS DLE EOT) and raises
            # PrinterFault without sending when it is out of paper, open or paused.
            if self.role == "label":
                self.printer.send(job.payload)  # type: ignore[union-attr]
            else:
                doc = msgspec.json.decode(job.payload, type=SlipDocument)
                self.printer.print_document(doc)  # type: ignore[union-attr]
        except DeliveryUncertain as exc:
            error = f"{who}: connection lost while printing. Check it and reprint if needed ({exc})"
            queue.mark_uncertain(db, job.job_id, error)
            log.error("job %s uncertain: %s", job.job_id, exc)
            return error
        except PrinterFault as exc:
            error = f"{exc} The job waits and prints when the printer is ready."
            queue.mark_waiting(db, job.job_id, error)
            log.warning("job %s waiting: %s", job.job_id, exc)
            return error
        except DeviceError as exc:
            error = f"{who}: {exc}. The job waits and is retried."
            queue.mark_waiting(db, job.job_id, error)
            log.warning("job %s not sent: %s", job.job_id, exc)
            return error
        queue.mark_printed(db, job.job_id)
        return None
