"""The print queue in the station database: jobs survive restarts and print at most once.

A job moves queued -> sending -> printed. It is marked ``sending`` (committed) before the
first byte goes out, so after a crash a job found in ``sending`` may or may not have
printed: it becomes ``uncertain`` and waits for a person, never resent on its own. A
printer that is not ready leaves the job ``queued`` with the reason in ``last_error`` and
``retry_at`` set by the worker's backoff; the queue is strictly in order per printer.

A lead may cancel a job or move it (or every waiting job of a printer) to another printer
listed in ``printers`` that takes the same medium (label or slip): another station's or a
spare. A move is one transaction, refuses a job being sent, and resets the job's retry
backoff so the new printer tries it at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from station.store.db import tx
from station.store.outbox import now_iso


@dataclass(frozen=True, slots=True)
class Job:
    job_id: int
    printer: str
    kind: str
    order_id: str | None
    package_id: int | None
    payload: bytes
    status: str
    attempts: int
    last_error: str | None
    media: str = "label"  # what the payload is: "label" (ZPL) or "slip" (SlipDocument JSON)
    retry_at: float | None = None  # unix seconds; None: now


class QueueError(Exception):
    """A lead's request cannot be done; the message says why, in plain words."""


_COLUMNS = (
    "job_id, printer, kind, order_id, package_id, payload, status, attempts, last_error, "
    "media, retry_at"
)
MOVABLE = ("queued", "uncertain")  # not "sending": it may be on the wire right now


def _job(row: tuple) -> Job:
    return Job(
        row[0], row[1], row[2], row[3], row[4], bytes(row[5]), row[6], row[7], row[8], row[9],
        row[10],
    )  # fmt: skip


def set_printers(db: sqlite_utils.Database, printers: dict[str, tuple[str, str]]) -> None:
    """Record the printers of the configuration: ``{name: (media, url)}``.

    Printers no longer configured stay listed, so their waiting jobs can still be seen
    and moved away.
    """
    with tx(db):
        for name, (media, url) in printers.items():
            db.execute(
                "INSERT INTO printers (name, media, url) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET media = excluded.media, url = excluded.url",
                [name, media, url],
            )


def printers(db: sqlite_utils.Database) -> dict[str, str]:
    """``{name: media}`` of every known printer."""
    return dict(db.execute("SELECT name, media FROM printers ORDER BY name").fetchall())


def enqueue(
    db: sqlite_utils.Database,
    printer: str,
    kind: str,
    payload: bytes,
    order_id: str | None = None,
    package_id: int | None = None,
) -> int:
    """Add a job for ``printer`` (its medium comes from ``printers``); inside the caller's
    transaction when there is one. Raises QueueError for an unknown printer."""
    now = now_iso()
    with tx(db):
        media = _media(db, printer)
        cur = db.execute(
            "INSERT INTO print_jobs (printer, media, kind, order_id, package_id, payload, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [printer, media, kind, order_id, package_id, payload, now, now],
        )
    return int(cur.lastrowid)


def _media(db: sqlite_utils.Database, printer: str) -> str:
    row = db.execute("SELECT media FROM printers WHERE name = ?", [printer]).fetchone()
    if row is None:
        known = ", ".join(printers(db)) or "none"
        raise QueueError(f"There is no printer {printer!r} (known printers: {known}).")
    return str(row[0])


def get(db: sqlite_utils.Database, job_id: int) -> Job | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM print_jobs WHERE job_id = ?", [job_id]).fetchone()
    return _job(row) if row else None


def next_queued(db: sqlite_utils.Database, printer: str) -> Job | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM print_jobs WHERE printer = ? AND status = 'queued' "
        "ORDER BY job_id LIMIT 1",
        [printer],
    ).fetchone()
    return _job(row) if row else None


def _set(
    db: sqlite_utils.Database,
    job_id: int,
    status: str,
    error: str | None,
    only_from: tuple[str, ...],
    bump: int = 0,
) -> bool:
    marks = ",".join("?" * len(only_from))
    with tx(db):
        cur = db.execute(
            f"UPDATE print_jobs SET status = ?, last_error = ?, updated_at = ?, "
            f"attempts = attempts + ? WHERE job_id = ? AND status IN ({marks})",
            [status, error, now_iso(), bump, job_id, *only_from],
        )
    return cur.rowcount == 1


def mark_sending(db: sqlite_utils.Database, job_id: int) -> bool:
    """Claim a queued job for sending; False if it was cancelled meanwhile."""
    return _set(db, job_id, "sending", None, ("queued",), bump=1)


def mark_printed(db: sqlite_utils.Database, job_id: int) -> None:
    _set(db, job_id, "printed", None, ("sending",))


def mark_waiting(db: sqlite_utils.Database, job_id: int, error: str, retry_in: float = 0.0) -> None:
    """The job did not go out (printer not ready or not reachable): keep it queued, to be
    tried again in ``retry_in`` seconds."""
    with tx(db):
        if _set(db, job_id, "queued", error, ("queued", "sending")):
            db.execute(
                "UPDATE print_jobs SET retry_at = ? WHERE job_id = ?",
                [time.time() + retry_in, job_id],
            )


def mark_uncertain(db: sqlite_utils.Database, job_id: int, error: str) -> None:
    _set(db, job_id, "uncertain", error, ("sending",))


def recover(db: sqlite_utils.Database) -> int:
    """At start-up: jobs left in ``sending`` by a crash become ``uncertain``. Returns how many."""
    with tx(db):
        cur = db.execute(
            "UPDATE print_jobs SET status = 'uncertain', updated_at = ?, last_error = "
            "'station stopped while sending: check whether it printed' WHERE status = 'sending'",
            [now_iso()],
        )
    return cur.rowcount


def resend(db: sqlite_utils.Database, job_id: int) -> bool:
    """A person checked the printer: send an uncertain job again."""
    return _set(db, job_id, "queued", None, ("uncertain",))


def cancel(db: sqlite_utils.Database, job_id: int) -> bool:
    """Cancel a job that is queued or uncertain; False if it is being sent, printed, gone."""
    return _set(db, job_id, "cancelled", None, MOVABLE)


def cancel_job(db: sqlite_utils.Database, job_id: int) -> Job:
    """A lead cancels ``job_id``: it will never print. Returns it; raises QueueError
    saying why not (no such job, being sent now, already printed or cancelled)."""
    with tx(db):
        job = _open_job(db, job_id, "cancelled")
        cancel(db, job.job_id)
    return job


def _open_job(db: sqlite_utils.Database, job_id: int, what: str) -> Job:
    job = get(db, job_id)
    if job is None:
        raise QueueError(f"There is no print job {job_id}.")
    if job.status == "sending":
        raise QueueError(
            f"Job {job_id} is being sent to printer {job.printer!r} right now: it cannot be "
            f"{what}. Try again in a moment."
        )
    if job.status not in MOVABLE:
        raise QueueError(f"Job {job_id} is already {job.status}: nothing to do.")
    return job


def move(db: sqlite_utils.Database, job_id: int, to: str) -> Job:
    """Send ``job_id`` to printer ``to`` instead; returns the job as it is now.

    One transaction. The job keeps its status (an uncertain job stays uncertain: moving
    says where it prints, not whether) and its retry backoff is reset. Raises QueueError
    (no such job or printer, other medium, being sent now, already printed).
    """
    with tx(db):
        job = _open_job(db, job_id, "moved")
        _check_target(db, job, to)
        db.execute(
            "UPDATE print_jobs SET printer = ?, attempts = 0, last_error = NULL, "
            "retry_at = NULL, updated_at = ? WHERE job_id = ?",
            [to, now_iso(), job_id],
        )
        moved = get(db, job_id)
    assert moved is not None
    return moved


def move_all(db: sqlite_utils.Database, from_printer: str, to: str) -> list[int]:
    """Move every waiting job (queued or uncertain) of ``from_printer`` to ``to``, in one
    transaction; a job being sent stays. Returns the ids moved. Raises QueueError."""
    with tx(db):
        _media(db, from_printer)
        jobs = [j for j in open_jobs(db, from_printer) if j.status in MOVABLE]
        for job in jobs:
            _check_target(db, job, to)
        for job in jobs:
            db.execute(
                "UPDATE print_jobs SET printer = ?, attempts = 0, last_error = NULL, "
                "retry_at = NULL, updated_at = ? WHERE job_id = ?",
                [to, now_iso(), job.job_id],
            )
    return [j.job_id for j in jobs]


def _check_target(db: sqlite_utils.Database, job: Job, to: str) -> None:
    media = _media(db, to)
    if media != job.media:
        raise QueueError(
            f"Job {job.job_id} is a {job.media} and printer {to!r} prints {media}s: "
            f"choose a {job.media} printer."
        )
    if to == job.printer:
        raise QueueError(f"Job {job.job_id} is already on printer {to!r}.")


def open_jobs(db: sqlite_utils.Database, printer: str | None = None) -> list[Job]:
    """Jobs not yet printed (queued, sending or uncertain), oldest first."""
    sql = f"SELECT {_COLUMNS} FROM print_jobs WHERE status IN ('queued', 'sending', 'uncertain')"
    args: list[object] = []
    if printer:
        sql += " AND printer = ?"
        args.append(printer)
    return [_job(r) for r in db.execute(sql + " ORDER BY job_id", args).fetchall()]
