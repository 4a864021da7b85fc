"""The print queue in the station database: jobs survive restarts and print at most once.

A job moves queued -> sending -> printed. It is marked ``sending`` (committed) before the
first byte goes out, so after a crash a job found in ``sending`` may or may not have
printed: it becomes ``uncertain`` and waits for a person, never resent on its own. A
printer that is not ready leaves the job ``queued`` with the reason in ``last_error``.
"""

from __future__ import annotations

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


_COLUMNS = "job_id, printer, kind, order_id, package_id, payload, status, attempts, last_error"


def _job(row: tuple) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), row[6], row[7], row[8])


def enqueue(
    db: sqlite_utils.Database,
    printer: str,
    kind: str,
    payload: bytes,
    order_id: str | None = None,
    package_id: int | None = None,
) -> int:
    """Add a job; inside the caller's transaction when there is one."""
    now = now_iso()
    with tx(db):
        cur = db.execute(
            "INSERT INTO print_jobs (printer, kind, order_id, package_id, payload, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [printer, kind, order_id, package_id, payload, now, now],
        )
    return int(cur.lastrowid)


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


def mark_waiting(db: sqlite_utils.Database, job_id: int, error: str) -> None:
    """The job did not go out (printer not ready or not reachable): keep it queued."""
    _set(db, job_id, "queued", error, ("queued", "sending"))


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
    return _set(db, job_id, "cancelled", None, ("queued", "uncertain"))


def open_jobs(db: sqlite_utils.Database, printer: str | None = None) -> list[Job]:
    """Jobs not yet printed (queued, sending or uncertain), oldest first."""
    sql = f"SELECT {_COLUMNS} FROM print_jobs WHERE status IN ('queued', 'sending', 'uncertain')"
    args: list[object] = []
    if printer:
        sql += " AND printer = ?"
        args.append(printer)
    return [_job(r) for r in db.execute(sql + " ORDER BY job_id", args).fetchall()]
