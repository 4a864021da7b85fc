"""Operators and badges: who may log in, with which role, and PIN checks."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from doms.pins import hash_pin, pin_matches
from station.packing.errors import Refused

__all__ = ["Operator", "authenticate", "find_operator", "hash_pin", "needs_pin"]


@dataclass(frozen=True, slots=True)
class Operator:
    badge: str
    name: str
    role: str

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def find_operator(db: sqlite_utils.Database, badge: str) -> tuple[Operator, str | None] | None:
    row = db.execute(
        "SELECT badge, name, role, pin_hash FROM operators WHERE badge = ? AND active = 1",
        [badge.strip()],
    ).fetchone()
    return None if row is None else (Operator(row[0], row[1], row[2]), row[3])


def needs_pin(db: sqlite_utils.Database, badge: str, require_pin: bool) -> bool:
    found = find_operator(db, badge)
    return found is not None and (require_pin or found[1] is not None)


def authenticate(
    db: sqlite_utils.Database, badge: str, pin: str | None, require_pin: bool = False
) -> Operator:
    """Return the operator for ``badge`` (checking ``pin`` when one is set or required).

    Raises Refused with a message for the person at the station.
    """
    found = find_operator(db, badge)
    if found is None:
        raise Refused(f"Badge {badge!r} is not registered here. Ask your lead.", kind="badge")
    operator, pin_hash = found
    if pin_hash is None and require_pin:
        raise Refused(f"{operator.name} has no PIN set; a lead must set one.", kind="pin")
    if pin_hash is not None and (pin is None or not pin_matches(pin, pin_hash)):
        raise Refused("Wrong PIN. Try again.", kind="pin")
    return operator
