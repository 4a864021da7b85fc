"""An MQTT 3.1.1 broker in pure Python (amqtt), for machines without Mosquitto.

``python -m sync.broker.embedded --port N`` serves on 127.0.0.1:N until SIGTERM or
SIGINT; ``sync.broker.runner`` starts it as a child process, so it can be SIGKILLed and
restarted on the same port exactly like ``mosquitto``. For tests, benchmarks and the demo
only: loopback, no users, no ACL, no TLS, nothing kept on disk (a restart forgets retained
messages and sessions, as a Mosquitto without persistence would).

What our protocol needs works, and ``tests/sync/test_embedded_broker.py`` checks it:
QoS 1 both ways, retained messages (set, replaced, delivered on subscribe), and the Will
(published, retained, when a client dies without DISCONNECT or stops answering).

Known limits of amqtt 0.12.1, none of which our correctness depends on (PROTOCOL.md:
the outbox, sequence numbers and catch-up carry it):

- **The persistent-session queue is not delivered like Mosquitto's.** amqtt treats a
  client that logged in through its anonymous plugin as having no session worth keeping
  (``Session.is_anonymous``: no queue while offline, the session dropped at disconnect).
  We authenticate with ``OpenAuth`` below, which does not mark clients anonymous, so
  amqtt does queue QoS 1 messages for an offline ``clean_session=0`` client; but it
  replays them on reconnect with the RETAIN flag set, in no guaranteed order, and with
  no limit on the queue. Treat what arrives after a reconnect as a bonus; catch-up is
  what makes a station whole.
- Two amqtt bugs are worked around in ``_Broker`` (silent clients never dropped, so no
  Will; retained messages leaking to every connecting client); a resumed session may
  still see a retained message twice: harmless, statuses are idempotent.
- The QoS a subscriber receives is its subscription's QoS, not min(publish, subscribe).
- Retained messages and sessions live in memory only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session


class _Broker(Broker):
    """amqtt's broker with two fixes.

    - A client that stops answering (no packet for 1.5 x its keep-alive) is dropped and
      its Will published, as MQTT 3.1.1 section 3.1.2.10 asks; amqtt 0.12.1 notices the
      expired keep-alive and does nothing (``handle_read_timeout`` is a no-op), so a
      station whose network died would look online forever.
    - On every connect, amqtt sends the connecting client (at QoS 0) the retained
      messages of *every* client's subscriptions, e.g. every station's retained status to
      every station. Only the client's own subscriptions count here.
    """

    async def _initialize_client_session(self, *args: Any) -> tuple[Any, Session]:
        handler, session = await super()._initialize_client_session(*args)
        if session.keep_alive > 0:  # amqtt waits exactly this long for the next packet
            session.keep_alive = math.ceil(session.keep_alive * 1.5)

        def expired() -> None:
            handler._doms_drop = asyncio.ensure_future(handler.handle_connection_closed())

        handler.handle_read_timeout = expired
        return handler, session

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        subscribers = self._subscriptions.get(subscription[0], [])
        if any(s.client_id == session.client_id for s, _qos in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)


class OpenAuth(BaseAuthPlugin):
    """Let every client in, with or without a username, without marking it anonymous
    (amqtt keeps no offline queue for anonymous clients)."""

    async def authenticate(self, *, session: Session) -> bool:
        return True


def config(host: str, port: int) -> dict[str, Any]:
    """The amqtt configuration: one TCP listener, ``OpenAuth``, nothing else (no $SYS)."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {f"{__name__}.OpenAuth": {}},
    }


async def serve(host: str, port: int) -> None:
    """Run the broker until SIGTERM or SIGINT, then shut it down cleanly."""
    broker = _Broker(config(host, port))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"embedded MQTT broker (amqtt) on {host}:{port}", flush=True)
    await stop.wait()
    await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sync.broker.embedded", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1883, help="TCP port (default 1883)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log amqtt's debug output")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
