"""The app of ``doms board``: only the site board screen, fed by a read-only MQTT client
(:class:`sync.site_board.BoardClient`); no station database, no devices. Built by
:func:`station.board_cli.make_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding

if TYPE_CHECKING:
    from sync.mqtt import BrokerSettings


class BoardApp(App[None]):
    """Only the site board, fed by a read-only client started on mount."""

    TITLE = "doms site board"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, settings: BrokerSettings, site: str) -> None:
        from sync.site_board import BoardClient

        super().__init__()
        self.sub_title = f"site {site} · {settings.host}:{settings.port}"
        self.client = BoardClient(settings, site, client_id=settings.username)

    def on_mount(self) -> None:
        from station.screens.site_board import SiteBoardScreen

        self.client.start()
        self.push_screen(SiteBoardScreen(self.client.board.view, self._link, standalone=True))

    def on_unmount(self) -> None:
        self.client.stop()

    def _link(self) -> str | None:
        if self.client.connected:
            return None
        why = self.client.last_error or "connecting"
        return f"Not connected to the broker ({why}): the board shows what it heard last."
