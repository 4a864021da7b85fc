"""The site board (Shift+F3 or ``CMD:BOARD``): every station of the site, problems first.

Anyone logged in may look: it only shows what every station already publishes, and
changes nothing (the print queue is the same: looking is free, acting takes a lead). A
lead watches it; a packer may check whether the printer next door is down.

One line per station: online or OFFLINE (and since when the board saw it change; a
station that was already offline when the board started says "before" that time),
operator, screen, events waiting, photos waiting, device problems in words, last sync.
A line that needs attention starts with ``!`` and says why: offline, a device not ok, an
outbox growing (or 100 events behind), or events waiting with no word from the hub for 3
minutes. The data is a :class:`sync.site_board.BoardView` read once a second from
``source`` (the station's sync client, or ``doms board``'s read-only client).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from drivers.base import Scan
from sync.site_board import HEAD, BoardView, Row, hub_line, row_line, rows, summary


def row_text(row: Row) -> Text:
    """One station's line; red when it needs attention."""
    return Text(row_line(row), style="bold red" if row.attention else "")


class SiteBoardScreen(Screen[None]):
    """``source()`` returns the board (None: this station has no sync, so it hears no other
    station); ``link()`` says what is wrong with the connection, None when connected.
    ``standalone``: the whole app (``doms board``): Esc does not close it."""

    DEFAULT_CSS = """
    SiteBoardScreen #summary { padding: 0 1; text-style: bold; }
    SiteBoardScreen #hub, SiteBoardScreen #link { padding: 0 1; }
    SiteBoardScreen #link { color: $error; text-style: bold; }
    SiteBoardScreen #head { padding: 0 1; color: $text-muted; }
    SiteBoardScreen #rows { padding: 0 1; }
    """
    TITLE = "Site board"
    BINDINGS = [
        Binding("escape", "close", "Back", priority=True),
        Binding("f15,shift+f3", "close", "Back", show=False, priority=True),
    ]

    def __init__(
        self,
        source: Callable[[], BoardView | None],
        link: Callable[[], str | None] = lambda: None,
        *,
        standalone: bool = False,
    ) -> None:
        super().__init__()
        self.source = source
        self.link = link
        self.standalone = standalone
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        yield Static(id="hub")
        yield Static(id="link")
        yield Static(HEAD, id="head")
        with VerticalScroll(id="board"):
            yield Static(id="rows")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_board()
        self.set_interval(1.0, self.refresh_board)
        self.query_one("#board").focus()  # Up/Down/PgUp/PgDn scroll a long site

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.standalone and action == "close")

    def refresh_board(self) -> None:
        view = self.source()
        problem = self.link()
        self.query_one("#link", Static).update(problem or "")
        if view is None:
            self.rows = []
            self.query_one("#summary", Static).update(
                "Sync is off at this station: it hears no other station."
            )
            self.query_one("#rows", Static).update("")
            return
        self.rows = rows(view)
        self.query_one("#summary", Static).update(summary(view, self.rows))
        self.query_one("#hub", Static).update(hub_line(view))
        body = Text("\n").join(row_text(r) for r in self.rows)
        self.query_one("#rows", Static).update(body)

    def action_close(self) -> None:
        self.dismiss(None)

    def handle_scan(self, scan: Scan) -> None:
        """``CMD:CANCEL`` or ``CMD:BOARD`` again closes the board; nothing else is for it."""
        code = scan.raw.strip().upper()
        if code in ("CMD:CANCEL", "CMD:BOARD") and not self.standalone:
            self.dismiss(None)
        else:
            self.notify("The site board takes no scans: Esc goes back.", severity="warning")
