"""The print queue (F10): every job not printed yet; a lead cancels, moves or resends.

Anyone may look. Changing the queue takes a lead: a lead logged in acts at once, anyone
else is asked for a lead's badge first (the same dialog as a weight override). Up/Down
pick a job; X cancels it, M moves it to another printer of the same kind (label or slip:
this station's, another station's, a spare), A moves every waiting job of its printer,
R sends an uncertain job again. Printers are picked by number.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from station.printing import queue
from station.screens.dialogs import Dialog, OverrideDialog


class PrintQueueDialog(Dialog):
    BINDINGS = [
        Binding("escape", "cancel", "Back", priority=True),
        Binding("up", "select(-1)", "Previous", show=False),
        Binding("down", "select(1)", "Next", show=False),
        Binding("x", "cancel_job", "Cancel job"),
        Binding("m", "move", "Move job"),
        Binding("a", "move_all", "Move all"),
        Binding("r", "resend", "Resend uncertain"),
        *[Binding(str(n), f"pick({n})", show=False) for n in range(1, 10)],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected = 0
        self.jobs: list[queue.Job] = []
        # While choosing a target printer: (job or None for all, printer names offered)
        self.choosing: tuple[queue.Job, bool, list[str]] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(
                "[b]Print queue[/b]  (Up/Down pick, X cancel, M move, A move all, "
                "R resend uncertain, Esc back)",
                markup=True,
            )
            yield Static(id="body")
            yield Static(id="targets")
            yield Static(id="note")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        self.jobs = queue.open_jobs(self.app.db)
        self.selected = max(0, min(self.selected, len(self.jobs) - 1))
        lines = [
            f"{'>' if i == self.selected else ' '} #{j.job_id} {j.printer:12} {j.kind:15} "
            f"{j.order_id or '':10} {j.status:9} tries {j.attempts}  {j.last_error or ''}"
            for i, j in enumerate(self.jobs)
        ]
        self.query_one("#body", Static).update("\n".join(lines) or "  Nothing waiting.")

    def print_queue_changed(self) -> None:
        self._show()

    def say(self, text: str) -> None:
        self.query_one("#note", Static).update(Text(text, style="bold"))

    def action_select(self, step: int) -> None:
        self.selected += step
        self._show()

    def _job(self) -> queue.Job | None:
        return self.jobs[self.selected] if self.jobs else None

    def _as_lead(self, act: Callable[[], None]) -> None:
        """Run ``act`` if a lead is logged in, else once a lead scanned their badge."""
        operator = self.app.operator
        if operator is not None and operator.is_lead:
            act()
            return
        self.app.push_screen(
            OverrideDialog(title="Lead: scan your badge to change the print queue."),
            lambda lead: act() if lead is not None else None,
        )

    def _done(self, text: str) -> None:
        self.choosing = None
        self.query_one("#targets", Static).update("")
        self.app.print_jobs_queued()  # wakes the workers: a moved job goes now
        self._show()
        self.say(text)

    def _try(self, change: Callable[[], str]) -> None:
        try:
            text = change()
        except queue.QueueError as exc:
            self.choosing = None
            self.note(str(exc))
            return
        self._done(text)

    def action_cancel_job(self) -> None:
        job = self._job()
        if job is None:
            return

        def cancel() -> str:
            queue.cancel_job(self.app.db, job.job_id)
            return f"Job {job.job_id} cancelled: it will not print."

        self._as_lead(lambda: self._try(cancel))

    def action_resend(self) -> None:
        job = self._job()
        if job is None or job.status != "uncertain":
            self.note("Pick an uncertain job to send again.")
            return

        def resend() -> str:
            queue.resend(self.app.db, job.job_id)
            return f"Job {job.job_id} will be sent again."

        self._as_lead(lambda: self._try(resend))

    def action_move(self) -> None:
        self._offer(all_jobs=False)

    def action_move_all(self) -> None:
        self._offer(all_jobs=True)

    def _offer(self, all_jobs: bool) -> None:
        job = self._job()
        if job is None:
            return
        names = [
            name
            for name, media in queue.printers(self.app.db).items()
            if media == job.media and name != job.printer
        ]
        if not names:
            self.note(f"There is no other {job.media} printer to move to.")
            return

        def offer() -> None:
            self.choosing = (job, all_jobs, names)
            what = f"every waiting job of {job.printer}" if all_jobs else f"job {job.job_id}"
            rows = "\n".join(f"  {n}  {name}" for n, name in enumerate(names, 1))
            self.query_one("#targets", Static).update(f"Move {what} to which printer?\n{rows}")

        self._as_lead(offer)

    def action_pick(self, number: int) -> None:
        if self.choosing is not None:
            self.on_code(str(number))

    def on_code(self, code: str) -> None:
        if self.choosing is None:
            return
        job, all_jobs, names = self.choosing
        target = names[int(code) - 1] if code.isdigit() and 0 < int(code) <= len(names) else code
        if target not in names:
            self.note(f"Pick a printer by its number, 1 to {len(names)}.")
            return

        def move() -> str:
            if all_jobs:
                moved = queue.move_all(self.app.db, job.printer, target)
                return f"{len(moved)} job(s) moved from {job.printer} to {target}."
            queue.move(self.app.db, job.job_id, target)
            return f"Job {job.job_id} moved to {target}."

        self._try(move)
