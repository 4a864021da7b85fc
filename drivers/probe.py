"""Which scale protocol does the device on this serial port speak? (``doms devices probe``)

Each protocol is tried at its usual serial settings with read-only, harmless commands and
short timeouts, in an order chosen so that one protocol's probe cannot change a scale of
another kind:

1. Toledo 8217 (9600 7E1): ``Ehello`` (the echo test Odoo's IoT box uses), then ``F`` to
   end the echo test whatever happened, then ``W``. Single letters without CR sit unread
   in the line buffer of NCI and MT-SICS scales.
2. NCI SCP-01 (9600 7E1): a CR first (so leftovers become one unknown command, answered
   ``?``), then ``W`` CR, then ``S`` CR.
3. CAS continuous output (9600 8N1): nothing is sent, the port is listened to for two
   timeouts; a scale streaming frames unasked ignores what the probes before sent.
4. CAS (9600 8N1): ENQ; after an ACK, DC1 to finish the exchange (it only asks for data).
5. MT-SICS (9600 8N1): CR LF (leftovers become one unknown command, answered ``ES``),
   ``I4`` (serial number), then ``SI`` (weight now); once it answers, ``I2`` and ``I3``
   (model, capacity, software) for the report.

No zero, tare, unit change or setup command is ever sent. With ``bauds`` (the CLI's
default sweep) the same five are then tried at each other rate, keeping each protocol's
data bits and parity: scales are often left at 4800, 2400 or 19200 by whoever set them up.
The first answer ends the probe, so a scale at its usual setting costs no more than before.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drivers.errors import DeviceError
from drivers.protocols import cas, cas_stream, mt_sics, nci, toledo
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
    seconds: float = 0.0  # how long the whole probe took

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
            "seconds": round(self.seconds, 2),
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

# CAS stream listens beside CAS: same 8N1 open (on a pty, an 8N1 open before Toledo's
# 7E1 makes the 7E1 one fail, see serial_scale.py).
ORDER = ("toledo-8217", "nci", "cas-stream", "cas", "mt-sics")
# After each protocol's usual rate (9600 for all five): 4800 and 2400 on older scales and
# ECR setups, 19200 on a few newer ones.
SWEEP_BAUDS = (9600, 4800, 2400, 19200)

# Worst case of each probe with nothing answering, in answer timeouts (plus fixed pauses):
# Toledo waits for the echo and for W (and 0.05 s after F), NCI for a CR (half) and for
# W and S, CAS for ENQ, MT-SICS for I4 and SI; CAS stream listens for two (a scale may
# send only a few frames a second).
_SILENT_COST = {
    "cas-stream": (2.0, 0.0),
    "toledo-8217": (2.0, 0.05),
    "nci": (2.5, 0.0),
    "cas": (1.0, 0.0),
    "mt-sics": (2.0, 0.0),
}


def plan(protocols: Iterable[str] = ORDER, bauds: Iterable[int] = ()) -> list[ScaleProtocol]:
    """The settings ``probe`` tries, in order: each protocol at its usual setting, then
    at every rate in ``bauds`` it has not been tried at, rate by rate."""
    usual = [SCALE_PROTOCOLS[name] for name in protocols]
    extra = [
        dataclasses.replace(proto, baud=baud)
        for baud in dict.fromkeys(bauds)
        for proto in usual
        if baud != proto.baud
    ]
    return usual + extra


def worst_case_seconds(
    timeout: float = 0.5, protocols: Iterable[str] = ORDER, bauds: Iterable[int] = ()
) -> float:
    """How long ``probe`` takes when nothing answers (opening a port takes a little more)."""
    total = 0.0
    for proto in plan(protocols, bauds):
        timeouts, fixed = _SILENT_COST[proto.name]
        total += timeouts * timeout + fixed
    return total


def probe(
    port: str,
    timeout: float = 0.5,
    protocols: Iterable[str] = ORDER,
    open_transport: Opener | None = None,
    stop_at_first: bool = True,
    bauds: Iterable[int] = (),
    on_attempt: Callable[[Attempt], None] | None = None,
) -> ProbeReport:
    """Try each protocol on ``port``; ``timeout`` is the wait for each answer.

    ``bauds`` adds a sweep: after every protocol at its usual setting, each at these rates
    (see :func:`plan`; :func:`worst_case_seconds` says how long that may take).
    ``on_attempt`` is called after each attempt, for progress output.

    Never raises for a device that does not answer; a port that cannot be opened is
    recorded in the attempts' ``detail`` (and not swept: no rate will open it).
    """
    opener = open_transport or _serial
    report = ProbeReport(port)
    started = time.monotonic()
    transport: _Counting | None = None
    opened_for: tuple[int, int, str, str] | None = None
    protocols = tuple(protocols)
    first_pass = len(protocols)
    try:
        for index, proto in enumerate(plan(protocols, bauds)):
            if index == first_pass and all(a.detail.startswith("error:") for a in report.attempts):
                break
            settings = (proto.baud, proto.bytesize, proto.parity, proto.stopbits)
            detail = ""
            try:
                # One open per setting: protocols sharing it share the port (Linux ptys
                # even refuse a second 7E1 open), and the port is not toggled needlessly.
                if settings != opened_for:
                    if transport is not None:
                        transport.close()
                    transport, opened_for = None, None
                    transport, opened_for = _Counting(opener(port, proto)), settings
                transport.count = 0
                detail = _PROBES[proto.name](transport, timeout) or ""
                if not detail and transport.count:
                    detail = (
                        f"no answer we understand ({transport.count} bytes of something "
                        "else: another protocol, or another baud rate)"
                    )
            except DeviceError as exc:
                detail = f"error: {exc}"
            answered = bool(detail) and not detail.startswith(("error:", "no answer"))
            attempt = Attempt(
                proto.name,
                proto.baud,
                proto.bytesize,
                proto.parity,
                proto.stopbits,
                answered,
                detail or "no answer",
            )
            report.attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            if answered and stop_at_first:
                break
    finally:
        if transport is not None:
            transport.close()
        report.seconds = time.monotonic() - started
    return report


class _Counting(Transport):
    """Counts the bytes read, so "silence" and "bytes we could not read" (the usual sign
    of a wrong baud rate) are told apart in the report."""

    def __init__(self, inner: Transport) -> None:
        self.inner, self.name, self.count = inner, inner.name, 0

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        self.count += len(data)
        return data

    def reset_input(self) -> None:
        self.inner.reset_input()

    def close(self) -> None:
        self.inner.close()


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


def _probe_cas_stream(t: Transport, timeout: float) -> str | None:
    t.reset_input()
    parser, deadline = cas_stream.Parser(), time.monotonic() + 2 * timeout
    while (left := deadline - time.monotonic()) > 0:
        for reading in parser.feed(t.read(min(left, 0.05))):
            return f"sends CAS continuous frames unasked ({reading})"
    return None


def _probe_mt_sics(t: Transport, timeout: float) -> str | None:
    def reply(b: bytes) -> mt_sics.Reply | None:
        for r in mt_sics.Replies().feed(b):
            if not r.is_error:  # ES alone is too weak a sign: many devices say "ES"
                return r
        return None

    def text(command: str) -> str:
        answer = _exchange(t, mt_sics.encode(command), timeout, reply)
        return answer.text if isinstance(answer, mt_sics.Reply) and answer.status == "A" else ""

    # The leading CR LF ends what earlier probes left in the line buffer (CAS's ENQ), so
    # it is not taken as part of I4.
    for command, wire in (("I4", b"\r\nI4\r\n"), ("SI", mt_sics.encode("SI"))):
        if isinstance(answer := _exchange(t, wire, timeout, reply), mt_sics.Reply):
            model, capacity = mt_sics.model_and_capacity(text(mt_sics.MODEL))
            serial = answer.text if answer.ident == "I4" else ""
            info = mt_sics.ScaleInfo(model, capacity, text(mt_sics.SOFTWARE), serial)
            return f"answered {command}: {info.describe()}"
    return None


_PROBES: dict[str, Callable[[Transport, float], str | None]] = {
    "cas-stream": _probe_cas_stream,
    "toledo-8217": _probe_toledo,
    "nci": _probe_nci,
    "cas": _probe_cas,
    "mt-sics": _probe_mt_sics,
}
