"""One thread per printer draining its queue: ask the printer first, send, record.

A job that could not go out waits ``BACKOFF_S`` (by its attempts so far) before the next
try; the time is kept in the job (``retry_at``), so it survives a restart and a lead's
move resets it. Jobs print strictly in order: a waiting job holds back those behind it.

The worker owns its own database connection (SQLite connections are not shared between
threads here) and reports every change through a plain callback; the app turns that into
a Textual message.
"""

from __future__ import annotations

import logging
import threading
import time
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
    """Drains the queue of one printer: ``role`` is its name in the queue (``label``,
    ``slip``, or another configured printer)."""

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
        try:
            while not self._stopping.is_set():
                job = queue.next_queued(db, self.role)
                if job is None:
                    self._wait(2.0)  # also how soon a job moved here by `doms station jobs` goes
                    continue
                due_in = (job.retry_at or 0.0) - time.time()
                if due_in > 0:
                    self._wait(min(due_in, 2.0))
                    continue
                self._report(self._print_one(db, job))
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
        who = "Label printer" if job.media == "label" else "Slip printer"
        if self.role not in ("label", "slip"):
            who += f" {self.role}"
        if not queue.mark_sending(db, job.job_id):
            return None  # cancelled or moved while we looked
        retry_in = BACKOFF_S[min(job.attempts, len(BACKOFF_S) - 1)]
        try:
            # The driver asks the printer first (ZPL ~HS, ESC/POS DLE EOT) and raises
            # PrinterFault without sending when it is out of paper, open or paused.
            if job.media == "label" and isinstance(self.printer, LabelPrinter):
                self.printer.send(job.payload)
            elif job.media == "slip" and isinstance(self.printer, SlipPrinter):
                doc = msgspec.json.decode(job.payload, type=SlipDocument)
                self.printer.print_document(doc)
            else:
                error = f"{who} cannot print a {job.media}: move the job to a {job.media} printer."
                queue.mark_waiting(db, job.job_id, error, retry_in)
                return error
        except DeliveryUncertain as exc:
            error = f"{who}: connection lost while printing. Check it and reprint if needed ({exc})"
            queue.mark_uncertain(db, job.job_id, error)
            log.error("job %s uncertain: %s", job.job_id, exc)
            return error
        except PrinterFault as exc:
            error = f"{exc} The job waits and prints when the printer is ready."
            queue.mark_waiting(db, job.job_id, error, retry_in)
            log.warning("job %s waiting: %s", job.job_id, exc)
            return error
        except DeviceError as exc:
            error = f"{who}: {exc}. The job waits and is retried."
            queue.mark_waiting(db, job.job_id, error, retry_in)
            log.warning("job %s not sent: %s", job.job_id, exc)
            return error
        queue.mark_printed(db, job.job_id)
        return None
