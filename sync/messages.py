"""Every message of protocol v1, as msgspec Structs, encoded as MessagePack.

One tagged union (``Message``) covers all payloads, so one decoder validates any of them;
a payload that does not decode, carries another protocol version or another tag is
refused with :class:`Malformed` (and quarantined by the receiver). Payload dicts
(``Event.data``, ``Change.data``) are kept as plain maps: their shape belongs to the event
type, documented in ``sync/PROTOCOL.md``, and validated where it is applied.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sync.topics import VERSION


class _Msg(msgspec.Struct, tag_field="k", kw_only=True, omit_defaults=True):
    v: int = VERSION


# -- station -> hub ----------------------------------------------------------------------
class Event(msgspec.Struct, array_like=True):
    """One outbox row. ``seq`` is gapless per station from 1; (station, seq) is its identity;
    ``id`` is a UUID kept for tracing."""

    seq: int
    id: str
    type: str
    at: str  # ISO 8601 UTC
    data: dict[str, Any]


class EventBatch(_Msg, tag="ev"):
    station: str
    events: list[Event]


class StationStatus(_Msg, tag="st"):
    """Retained on the station's status topic; the Will is the same with online=False.
    ``bd_seq`` (birth/death sequence, as Sparkplug's bdSeq) pairs a Will with its birth."""

    station: str
    online: bool
    bd_seq: int
    at: str = ""
    operator: str | None = None
    screen: str | None = None
    devices: dict[str, str] = msgspec.field(default_factory=dict)  # device -> "ok" or problem
    outbox_depth: int = 0
    photos_waiting: int = 0  # photo files the hub has not acknowledged (optional: 0 omitted)
    last_sync_at: str | None = None
    site_seq: int = 0
    station_seq: int = 0


class CatchUpRequest(_Msg, tag="cu"):
    """Resend ``stream`` ("site" or "station") from ``from_seq`` (inclusive)."""

    station: str
    stream: str
    from_seq: int


class SnapshotRequest(_Msg, tag="sr"):
    """A new or wiped station asks for the whole current state."""

    station: str


class PhotoChunk(_Msg, tag="pc"):
    """Part ``index`` (from 0) of ``count`` of the photo ``sha256`` (lowercase hex), a file
    of ``size`` bytes cut in pieces of ``CHUNK_BYTES`` (the last one shorter). ``subject``
    and ``taken_at`` repeat the ``photo_taken`` event, so a hub that missed it still knows
    what the picture shows."""

    station: str
    sha256: str
    size: int
    index: int
    count: int
    data: bytes
    subject: str = ""
    taken_at: str = ""
    # Set on the last chunk of each pass: a hub that does not then hold the whole photo
    # answers with the chunks it lacks (PhotoAck.missing). Hubs before it ignore it.
    ask: bool = False


# -- hub -> station ----------------------------------------------------------------------
class EventAck(_Msg, tag="ak"):
    """The hub has applied every event of ``station`` up to ``applied_seq`` (high-water
    mark). ``resend_from`` set: a gap was seen; send again from that seq.
    ``renumber_after`` set: the hub holds other events (other ids) under the seqs this
    batch used - the station's numbering restarted (a wiped or restored database): it must
    move every event not yet acknowledged past ``renumber_after`` and send them again.
    ``matched_upto`` (with ``renumber_after``; optional): the batch's events up to that seq
    are the hub's own (the same ids): the station marks them delivered first, so that only
    the events the hub does not have are renumbered."""

    station: str
    applied_seq: int
    resend_from: int | None = None
    renumber_after: int | None = None
    matched_upto: int | None = None


class PhotoAck(_Msg, tag="pa"):
    """The hub's answer to a whole photo. ``stored``: it holds the file and checked it
    against ``sha256`` (the station marks it uploaded). Not stored: the assembled file did
    not match (``reason`` says how); the station sends the photo again.

    Not stored with ``missing`` set: not a refusal but the answer to a chunk marked ``ask``
    while the photo is incomplete: the indexes of the chunks the hub lacks, ascending; the
    station sends those only. Only ever sent to a station that asked."""

    station: str
    sha256: str
    stored: bool
    reason: str | None = None
    missing: list[int] | None = None


class Change(msgspec.Struct, array_like=True):
    """One row of a hub stream: ``seq`` gapless per stream from 1."""

    seq: int
    type: str
    data: dict[str, Any]


class StreamBatch(_Msg, tag="sb"):
    """Changes of one stream. ``stream`` is "site" or "station"; ``station`` names the
    station for a station stream."""

    stream: str
    changes: list[Change]
    station: str | None = None


class Snapshot(_Msg, tag="sn"):
    """The whole state a station needs, and the stream positions it reflects. Sent in
    ``part`` of ``parts`` chunks; the station applies it when all parts have arrived."""

    station: str
    snapshot_id: str
    part: int
    parts: int
    site_seq: int
    station_seq: int
    changes: list[Change]  # upserts that rebuild the replica, in order


class HubStatus(_Msg, tag="hs"):
    """Retained on the hub's status topic; the Will is the same with online=False.
    ``photo_resume`` (in births): this hub answers a chunk marked ``ask`` with the chunks
    it lacks, so a station resumes a photo where the hub stands rather than resending it
    whole. Absent: a hub older than that, which may not take photo files at all."""

    online: bool
    bd_seq: int
    at: str = ""
    photo_resume: bool = False


Message = (
    EventBatch
    | StationStatus
    | CatchUpRequest
    | SnapshotRequest
    | PhotoChunk
    | EventAck
    | PhotoAck
    | StreamBatch
    | Snapshot
    | HubStatus
)

CHUNK_BYTES = 64 * 1024  # photo bytes per PhotoChunk (PROTOCOL.md, "Photo files")
MAX_PHOTO_BYTES = 16 * 1024 * 1024  # larger photos are neither sent nor accepted

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


class Malformed(ValueError):
    """A payload that is not a valid v1 message; ``str()`` is the reason to quarantine."""


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes) -> Message:
    """Decode and validate one payload. Raises Malformed with the reason."""
    try:
        message = _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Malformed(f"undecodable: {exc}") from None
    if message.v != VERSION:
        raise Malformed(f"protocol version {message.v} not supported (this is v{VERSION})")
    return message
