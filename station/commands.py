"""Every station action, once: its key, its command barcode and its words.

The pack screen's key bindings, the help screen, the ``CMD:`` barcode dispatch and the
printed command sheet are all made from this list, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # the CMD: barcode is "CMD:" + name
    key: str  # Textual key name(s), comma-separated
    action: str  # action_<action> on the pack screen
    description: str
    label: str  # short, for the footer
    shown: str = ""  # the key as printed for people, when not the key name in capitals

    @property
    def barcode(self) -> str:
        return f"CMD:{self.name}"

    @property
    def key_text(self) -> str:
        return self.shown or self.key.upper()


COMMANDS: tuple[Command, ...] = (
    Command("HELP", "f1", "help", "Help: keys and commands", "Help"),
    Command("SHORT", "f2", "short", "Mark a line short", "Short"),
    Command("UNDO", "f3", "undo", "Undo last scan", "Undo"),
    Command("QTY", "f4", "quantity", "Key a quantity", "Qty"),
    Command("NEWPKG", "f5", "new_package", "New package", "New pkg"),
    Command("MOVE", "f6", "move", "Move an item to another package", "Move"),
    Command("CARTON", "f7", "accept_carton", "Use the suggested carton", "Carton"),
    Command("REPRINT", "f8", "reprint", "Reprint label", "Reprint"),
    Command("VOID", "f9", "void", "Void label", "Void"),
    Command("QUEUE", "f10", "print_queue", "Print queue", "Queue"),
    Command("OVERRIDE", "f11", "override", "Lead override (weight)", "Override"),
    Command("LOGOUT", "f12", "logout", "Log out", "Log out"),
    Command("LOCK", "ctrl+l", "lock", "Lock the station", "Lock"),
    Command("SHEET", "ctrl+p", "print_sheet", "Print this command sheet", "Cmd sheet"),
    # F1-F12 are all taken. Shift+F1/F2/F3 reach Textual as F13/F14 on xterm-like terminals
    # and the Linux console, as shift+f1/f2/f3 under the kitty keyboard protocol: bind both.
    Command("PHOTO", "f13,shift+f1", "photo", "Photograph damage", "Photo", "Shift+F1"),
    Command(
        "INSPECT",
        "f14,shift+f2",
        "inspect",
        "Inspect inbound goods (inspector, lead)",
        "Inspect",
        "Shift+F2",
    ),
    Command(
        "BOARD",
        "f15,shift+f3",
        "site_board",
        "Site board: every station's status",
        "Board",
        "Shift+F3",
    ),
)

BY_NAME = {c.name: c for c in COMMANDS}
# The receiving screen's own (Shift+F2; ``action`` is on InspectScreen). There F3 (CMD:UNDO)
# takes back the last count and F4 (CMD:QTY) keys a quantity, as when packing.
RECEIVING_COMMANDS: tuple[Command, ...] = (
    Command("DAMAGED", "f2", "damaged", "Receiving: note damaged units", "Damaged", "F2"),
    Command("RECEIVED", "f10", "close_receipt", "Receiving: close the receipt", "Close", "F10"),
    Command(
        "RETURN",
        "f5",
        "return_slip",
        "Receiving: the next reference is a customer return",
        "Return",
        "F5",
    ),  # fmt: skip
)
# Answers inside dialogs, also as barcodes so a packer never needs the keyboard.
DIALOG_CODES = (
    ("CMD:CANCEL", "Cancel / back"),
    ("CMD:REASON:MISSING", "Short reason: missing"),
    ("CMD:REASON:DAMAGED", "Short reason: damaged"),
    ("CMD:REASON:OTHER", "Short reason: other"),
)


def sheet_entries() -> list[tuple[str, str]]:
    """(barcode, description) for the printed command sheet."""
    return [
        (c.barcode, f"{c.description} [{c.key_text}]") for c in (*COMMANDS, *RECEIVING_COMMANDS)
    ] + list(DIALOG_CODES)
