"""Which scale protocol does the device on this serial port speak? (``doms devices probe``)

Each protocol is tried at its usual serial settings with read-only, harmless commands and
short timeouts, in an order chosen so that one protocol's probe cannot change a scale of
another kind:

1. Toledo 8217 (9600 7E1): ``Ehello`` (the echo test Odoo's IoT box uses), then ``F`` to
   end the echo test whatever happened, then ``W``. Single letters without CR sit unread
   in the line buffer of NCI and MT-SICS scales.
2. NCI SCP-01 (9600 7E1): a CR first (so leftovers become one unknown command, answered
   ``?``), then ``W`` CR, then ``S`` CR.
3. CAS (9600 8N1): ENQ; after an ACK, DC1 to finish the exchange (it only asks for data).
4. MT-SICS (9600 8N1): ``I4`` (serial number), then ``SI`` (weight now).

No zero, tare, unit change or setup command is ever sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drivers.errors import DeviceError
from drivers.protocols import cas, mt_sics, nci, toledo
from drivers.transports.base import Transport
from drivers.urls import SCALE_PROTOCOLS, ScaleProtocol


@dataclass(frozen=True)
class Attempt:
    """One protocol tried at one setting. ``detail`` says what answered (or what failed)."""

    protocol: str
    baud: int
    bytesize: int
    parity: str
    stopbits: str
    answered: bool
    detail: str

    @property
    def settings(self) -> str:
        return f"{self.baud} {self.bytesize}{self.parity}{self.stopbits}"

    def url(self, port: str) -> str:
        """The device URL for the station config."""
        return (
            f"serial://{port}?protocol={self.protocol}&baud={self.baud}"
            f"&bytesize={self.bytesize}&parity={self.parity}&stopbits={self.stopbits}"
        )


@dataclass
class ProbeReport:
    """Every attempt, in order; ``found`` is the first that answered (None if none)."""

    port: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def found(self) -> Attempt | None:
        return next((a for a in self.attempts if a.answered), None)

    @property
    def url(self) -> str | None:
        return self.found.url(self.port) if self.found else None

    def as_json(self) -> dict[str, object]:
        found = self.found
        return {
            "port": self.port,
            "protocol": found.protocol if found else None,
            "settings": found.settings if found else None,
            "url": self.url,
            "attempts": [
                {
                    "protocol": a.protocol,
                    "settings": a.settings,
                    "answered": a.answered,
                    "detail": a.detail,
                }
                for a in self.attempts
            ],
        }


Opener = Callable[[str, ScaleProtocol], Transport]

ORDER = ("toledo-8217", "nci", "cas", "mt-sics")


def probe(
    port: str,
    timeout: float = 0.5,
    protocols: Iterable[str] = ORDER,
    open_transport: Opener | None = None,
    stop_at_first: bool = True,
) -> ProbeReport:
    """Try each protocol on ``port``; ``timeout`` is the wait for each answer.

    Never raises for a device that does not answer; a port that cannot be opened is
    recorded in every attempt's ``detail``.
    """
    opener = open_transport or _serial
    report = ProbeReport(port)
    transport: Transport | None = None
    opened_for: tuple[int, int, str, str] | None = None
    try:
        for name in protocols:
            proto = SCALE_PROTOCOLS[name]
            settings = (proto.baud, proto.bytesize, proto.parity, proto.stopbits)
            detail = ""
            try:
                # One open per setting: protocols sharing it share the port (Linux ptys
                # even refuse a second 7E1 open), and the port is not toggled needlessly.
                if settings != opened_for:
                    if transport is not None:
                        transport.close()
                    transport, opened_for = None, None
                    transport, opened_for = opener(port, proto), settings
                detail = _PROBES[name](transport, timeout) or ""
            except DeviceError as exc:
                detail = f"error: {exc}"
            answered = bool(detail) and not detail.startswith("error:")
            report.attempts.append(
                Attempt(
                    proto.name,
                    proto.baud,
                    proto.bytesize,
                    proto.parity,
                    proto.stopbits,
                    answered,
                    detail or "no answer",
                )
            )
            if answered and stop_at_first:
                break
    finally:
        if transport is not None:
            transport.close()
    return report


def _serial(port: str, proto: ScaleProtocol) -> Transport:
    from drivers.transports.serial_port import SerialTransport

    transport = SerialTransport(
        port,
        baudrate=proto.baud,
        bytesize=proto.bytesize,
        parity=proto.parity,
        stopbits=proto.stopbits,
    )
    transport.open()
    return transport


def _exchange(
    t: Transport, command: bytes, timeout: float, done: Callable[[bytes], object]
) -> object:
    """Send ``command``, collect bytes until ``done(collected)`` is truthy or ``timeout``."""
    t.reset_input()
    t.write(command)
    got = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        got += t.read(min(left, 0.05))
        if result := done(got):
            return result
    return None


def _show(data: bytes) -> str:
    return repr(data)[2:-1]


def _probe_toledo(t: Transport, timeout: float) -> str | None:
    echo = _exchange(t, toledo.ECHO_PROBE, timeout, lambda b: toledo.ECHO_ANSWER in b)
    t.write(toledo.END_ECHO)  # never leave a scale in its echo test
    time.sleep(0.05)
    if echo:
        return f"answered Ehello with the echo test ({_show(toledo.ECHO_ANSWER)})"

    def frame(b: bytes) -> toledo.Frame | None:
        found = toledo.Parser().feed(b)
        return found[0] if found else None

    if answer := _exchange(t, toledo.WEIGHT, timeout, frame):
        return f"answered W with {answer}"
    return None


def _probe_nci(t: Transport, timeout: float) -> str | None:
    def reply(b: bytes) -> nci.Reply | None:
        found = nci.Parser().feed(b)
        return found[0] if found else None

    # A CR turns whatever an earlier probe left in the line buffer into one command.
    if flushed := _exchange(t, b"\r", timeout / 2, reply):
        return f"answered a bare CR with {flushed}"
    for command in (nci.WEIGHT, nci.STATUS):
        if answer := _exchange(t, command, timeout, reply):
            return f"answered {_show(command)} with {answer}"
    return None


def _probe_cas(t: Transport, timeout: float) -> str | None:
    def event(kind: type) -> Callable[[bytes], object]:
        return lambda b: next((e for e in cas.Parser().feed(b) if isinstance(e, kind)), None)

    ack = _exchange(t, cas.ENQ, timeout, event(cas.Ack))
    if not isinstance(ack, cas.Ack):
        return None
    if not ack.ready:
        return "answered ENQ with NAK (a CAS scale, not ready to send)"
    reading = _exchange(t, cas.DC1, timeout, event(cas.Reading))
    if reading:
        return f"answered ENQ with ACK and DC1 with a checked frame ({reading})"
    return "answered ENQ with ACK"


def _probe_mt_sics(t: Transport, timeout: float) -> str | None:
    def reply(b: bytes) -> mt_sics.Reply | None:
        for line in mt_sics.LineFramer().feed(b):
            try:
                r = mt_sics.parse_line(line)
            except DeviceError:
                continue
            if not r.is_error:  # ES alone is too weak a sign: many devices say "ES"
                return r
        return None

    for command, wire in (("I4", b"I4\r\n"), ("SI", mt_sics.encode("SI"))):
        if answer := _exchange(t, wire, timeout, reply):
            return f"answered {command} with {answer}"
    return None


_PROBES: dict[str, Callable[[Transport, float], str | None]] = {
    "toledo-8217": _probe_toledo,
    "nci": _probe_nci,
    "cas": _probe_cas,
    "mt-sics": _probe_mt_sics,
}
