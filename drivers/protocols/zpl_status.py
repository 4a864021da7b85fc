"""The ZPL ``~HS`` (host status) answer: three ``STX ... ETX CR LF`` frames.

Source: Zebra "ZPL II Programming Guide", ``~HS``::

    string 1  aaa,b,c,dddd,eee,f,g,h,iii,j,k,l
              aaa comm settings  b paper out  c pause  dddd label length (dots)
              eee formats in receive buffer  f buffer full  g comm diagnostics mode
              h partial format  iii unused  j corrupt RAM  k under temperature
              l over temperature
    string 2  mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www
              mmm function settings  n unused  o head up  p ribbon out
              q thermal transfer mode  r print mode  s print width mode
              t label waiting  uuuuuuuu labels remaining in batch
              v format while printing  www graphic images stored
    string 3  xxxx,y    xxxx password  y static RAM installed

Frames are told apart by their number of fields, so they may arrive in any order, split
across reads and among garbage.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import PrinterState, PrinterStatus
from drivers.errors import BadFrame

STX, ETX = 0x02, 0x03
MAX_FRAME = 128  # the longest real frame is ~40 bytes
_FIELDS = {12: 1, 11: 2, 2: 3}  # number of fields -> which string


class HsFramer:
    """Collect ``STX ... ETX`` frames from a byte stream; anything outside is dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the frames it completed (contents without STX/ETX)."""
        self._buf += data
        done: list[bytes] = []
        while True:
            start = self._buf.find(STX)
            if start < 0:
                self._buf.clear()
                break
            del self._buf[:start]
            end = self._buf.find(ETX, 1)
            restart = self._buf.find(STX, 1)
            if restart > 0 and (end < 0 or restart < end):
                del self._buf[:restart]  # a new frame began inside this one: drop the torn one
                continue
            if end < 0:
                if len(self._buf) > MAX_FRAME:
                    self._buf.clear()
                break
            done.append(bytes(self._buf[1:end]))
            del self._buf[: end + 1]
        self.frames += done
        return done

    def complete(self) -> bool:
        """True once one frame of each of the three strings has arrived."""
        kinds = {_FIELDS.get(len(f.split(b","))) for f in self.frames}
        return {1, 2, 3} <= kinds


@dataclass(frozen=True, slots=True)
class HostStatus:
    """The flags of a ``~HS`` answer that matter to us."""

    paper_out: bool = False
    paused: bool = False
    formats_in_buffer: int = 0
    buffer_full: bool = False
    corrupt_ram: bool = False
    under_temperature: bool = False
    over_temperature: bool = False
    head_open: bool = False
    ribbon_out: bool = False
    labels_remaining: int = 0

    def to_status(self) -> PrinterStatus:
        """The :class:`PrinterStatus` the station shows."""
        flags = [
            (self.paper_out, PrinterState.PAPER_OUT),
            (self.head_open, PrinterState.HEAD_OPEN),
            (self.ribbon_out, PrinterState.RIBBON_OUT),
            (self.paused, PrinterState.PAUSED),
            (self.buffer_full, PrinterState.BUFFER_FULL),
            (
                self.corrupt_ram or self.under_temperature or self.over_temperature,
                PrinterState.OTHER_ERROR,
            ),
        ]
        conditions = tuple(state for on, state in flags if on) or (PrinterState.READY,)
        notes = []
        if self.formats_in_buffer:
            notes.append(f"{self.formats_in_buffer} label(s) waiting in the printer")
        if self.over_temperature:
            notes.append("print head too hot")
        if self.under_temperature:
            notes.append("print head too cold")
        if self.corrupt_ram:
            notes.append("printer memory corrupt: power it off and on")
        return PrinterStatus(conditions=conditions, detail="; ".join(notes))


def _fields(frame: bytes, count: int) -> list[str]:
    parts = [p.strip() for p in frame.decode("latin-1").split(",")]
    if len(parts) != count or not all(p.isascii() and p.isdigit() for p in parts):
        raise BadFrame(f"Printer status frame not understood: {frame[:60]!r}")
    return parts


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise BadFrame(f"Printer status flag not 0 or 1: {value!r}")
    return value == "1"


def parse_host_status(frames: list[bytes]) -> HostStatus:
    """Read the frames of a ``~HS`` answer (string 3 optional). Raises BadFrame."""
    by_kind: dict[int, bytes] = {}
    for frame in frames:
        kind = _FIELDS.get(len(frame.split(b",")))
        if kind:
            by_kind[kind] = frame  # the latest of each wins
    if 1 not in by_kind or 2 not in by_kind:
        raise BadFrame("Printer answered the status request with something we cannot read.")
    s1, s2 = _fields(by_kind[1], 12), _fields(by_kind[2], 11)
    return HostStatus(
        paper_out=_flag(s1[1]),
        paused=_flag(s1[2]),
        formats_in_buffer=int(s1[4]),
        buffer_full=_flag(s1[5]),
        corrupt_ram=_flag(s1[9]),
        under_temperature=_flag(s1[10]),
        over_temperature=_flag(s1[11]),
        head_open=_flag(s2[2]),
        ribbon_out=_flag(s2[3]),
        labels_remaining=int(s2[8]),
    )


def parse_hs(data: bytes) -> PrinterStatus:
    """Parse a whole ``~HS`` answer given as bytes. Raises BadFrame."""
    return parse_host_status(HsFramer().feed(data)).to_status()


def encode_hs(status: HostStatus, label_length: int = 1218) -> bytes:
    """The ``~HS`` answer a printer in ``status`` sends (used by the emulator)."""
    s1 = (
        f"030,{_b(status.paper_out)},{_b(status.paused)},{label_length:04d},"
        f"{min(status.formats_in_buffer, 999):03d},{_b(status.buffer_full)},0,0,000,"
        f"{_b(status.corrupt_ram)},{_b(status.under_temperature)},{_b(status.over_temperature)}"
    )
    s2 = (
        f"001,0,{_b(status.head_open)},{_b(status.ribbon_out)},0,2,6,0,"
        f"{min(status.labels_remaining, 99999999):08d},1,000"
    )
    s3 = "1234,0"
    return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (s1, s2, s3))


def _b(flag: bool) -> str:
    return "1" if flag else "0"
