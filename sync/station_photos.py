"""The photo half of :class:`sync.station.StationSync` (PROTOCOL.md, "Photo files"): upload
the station's photos to the hub in 64 KiB chunks, one photo at a time, only while the
event outbox is empty, and mark each ``uploaded_at`` once the hub has acknowledged the
whole file.

Events first. Before every chunk the sender checks the outbox: an event waiting stops the
photo until the hub has acknowledged it, so a new event waits behind at most the chunks
already handed to the broker (``WINDOW``), never behind a whole photo. Chunks go out as
the broker confirms earlier ones (``MqttLink(on_published=...)``).

Resume. The last chunk of each pass is marked ``ask``: a hub that then lacks chunks (the
broker lost some it had confirmed, or the hub restarted and lost its partial file) answers
with their indexes (``PhotoAck.missing``) and the station sends only those. After its own
link dropped, or on a new hub birth, the station resumes from the first chunk the broker
had not confirmed, or, when everything was handed over, sends the last chunk again marked
``ask`` (a probe): the hub answers with what it lacks, or ``stored`` when it has it all.
A hub that does not say ``photo_resume`` in its status gets the photo whole again.

Failure. When the hub has not acknowledged a photo ``photo_ack_timeout`` seconds after its
last chunk, the station probes (or resends it whole, to a hub without ``photo_resume``),
and waits twice as long each time the hub stays silent, up to ``photo_backoff_max``: a hub
older than photo files never answers (the broker drops the chunks), which is said once in
the log. Any PhotoAck, or a new hub birth, starts the wait at ``photo_ack_timeout`` again.
A photo the hub refuses (the assembled file did not match its hash) is read again and
sent whole. A photo this station cannot send (its file missing, no longer matching its
hash, or larger than the protocol allows) gets ``upload_error``, is logged, and is not
tried again.

A mixin of :class:`~sync.station.StationSync`, run only on its worker thread: it owns
``_upload`` and needs no lock for it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sync.messages import (
    CHUNK_BYTES,
    MAX_PHOTO_BYTES,
    HubStatus,
    PhotoAck,
    PhotoChunk,
    encode,
)
from sync.photo_files import photo_path, root_beside
from sync.station_apply import transaction
from sync.station_db import no_fsync, now_iso, outbox_depth

log = logging.getLogger(__name__)

WINDOW = 4  # chunks handed to the broker and not yet confirmed by it
PHOTO_ACK_TIMEOUT_S = 30.0  # no PhotoAck this long after the last chunk: probe or resend
PHOTO_BACKOFF_MAX_S = 600.0  # the wait doubles per silent timeout, up to this


@dataclass(slots=True)
class _Upload:
    sha256: str
    data: bytes
    subject: str
    taken_at: str
    todo: list[int] = field(default_factory=list)  # chunk indexes still to send, ascending
    inflight: list[tuple[int, Any]] = field(default_factory=list)  # (index, MQTTMessageInfo)
    all_sent_at: float | None = None  # monotonic: every chunk confirmed by the broker

    def __post_init__(self) -> None:
        self.todo = list(range(self.count))

    @property
    def count(self) -> int:
        return -(-len(self.data) // CHUNK_BYTES)


class PhotoSender:
    """Uploads photos and handles the hub's PhotoAcks; see the module docstring."""

    def _init_photos(self) -> None:
        self._upload: _Upload | None = None
        self._photos_root = root_beside(self.db_path)
        self._hub_birth: int | None = None  # bd_seq of the hub birth last seen
        self._hub_resumes = False  # that birth said photo_resume
        self._photo_timeouts = 0  # in a row, with no PhotoAck between: the back-off
        self._said_no_photos = False  # the log said this hub drops photos

    def _photo_link_down(self) -> None:
        up = self._upload
        if up is None:
            return
        unconfirmed = [index for index, info in up.inflight if not info.is_published()]
        up.inflight.clear()
        if unconfirmed:
            # Resume from the first chunk the broker had not confirmed.
            up.todo = sorted(set(up.todo) | set(unconfirmed))
            up.all_sent_at = None
        elif not up.todo:
            # Everything was handed over: after the reconnect, ask what the hub has (the
            # broker may have lost chunks, the ack may be lost) rather than wait for the
            # ack timeout.
            self._probe(up)

    def _on_hub_status(self, status: HubStatus) -> None:
        if not status.online or status.bd_seq == self._hub_birth:
            return
        self._hub_birth = status.bd_seq
        self._hub_resumes = status.photo_resume
        # A new hub, perhaps an upgraded one: no back-off from its predecessor.
        self._photo_timeouts = 0
        self._said_no_photos = False
        up = self._upload
        if up is not None and not up.todo:
            # It may have restarted and lost its partial file, and the broker what it held.
            self._probe(up)

    def _probe(self, up: _Upload) -> None:
        """Send the last chunk again, marked ``ask``, to learn what the hub lacks."""
        if not self._hub_resumes:
            return  # it would not answer: the ack timeout resends the photo whole
        up.todo = [up.count - 1]
        up.all_sent_at = None
        self._count("photo_probes")

    def _photo_ack_wait(self) -> float:
        """Seconds to wait for a PhotoAck after the last chunk: doubled per silence."""
        return min(self.photo_ack_timeout * 2**self._photo_timeouts, self.photo_backoff_max)

    def _check_photo_ack(self, now: float) -> None:
        up = self._upload
        if up is None or not up.all_sent_at or now - up.all_sent_at <= self._photo_ack_wait():
            return
        waited = self._photo_ack_wait()
        self._photo_timeouts += 1
        self._count("photo_ack_timeouts")
        if self._hub_resumes:
            log.info("no ack for photo %s in %g s: asking the hub what it lacks", up.sha256, waited)
            self._probe(up)
            return
        if not self._said_no_photos:
            self._said_no_photos = True
            log.warning(
                "the hub does not take photos: no ack for photo %s in %g s, and its status "
                "does not say it takes photo files (a hub older than them drops the chunks; "
                "upgrade it). Photos wait here; sending again, at most every %g s",
                up.sha256, waited, self.photo_backoff_max,
            )  # fmt: skip
        else:
            log.info("no ack for photo %s in %g s: sending it again", up.sha256, waited)
        self._restart_photo(up)

    def _pump_photos(self) -> None:
        link = self._link
        if not self._ready or link is None or not link.connected.is_set() or self._inflight:
            return
        with self._lock:
            if not self._hub_online:
                # Queued for an absent hub they would fill the broker's queue for it.
                return
        up = self._upload or self._next_upload()
        if up is None:
            return
        up.inflight = [(i, info) for i, info in up.inflight if not info.is_published()]
        while len(up.inflight) < WINDOW and up.todo:
            if outbox_depth(self._db):
                return  # events first: they are what the floor is waiting on
            index, last = up.todo[0], len(up.todo) == 1
            info = link.publish(self._photo_topic, encode(self._chunk(up, index, ask=last)))
            if info.rc != 0:
                return  # gone offline: resumes after the reconnect
            up.inflight.append((index, info))
            del up.todo[0]
            self._count("photo_chunks_sent")
        if not up.todo and not up.inflight and up.all_sent_at is None:
            up.all_sent_at = time.monotonic()

    def _chunk(self, up: _Upload, index: int, ask: bool = False) -> PhotoChunk:
        return PhotoChunk(
            station=self.station_id,
            sha256=up.sha256,
            size=len(up.data),
            index=index,
            count=up.count,
            data=up.data[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES],
            subject=up.subject,
            taken_at=up.taken_at,
            ask=ask,
        )

    def _next_upload(self) -> _Upload | None:
        """The oldest photo not uploaded, read and checked; None when there is none."""
        while True:
            row = self._db.execute(
                "SELECT sha256, subject, taken_at FROM photos "
                "WHERE uploaded_at IS NULL AND upload_error IS NULL "
                "ORDER BY stored_at, sha256 LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            sha, subject, taken_at = row
            try:
                data = photo_path(self._photos_root, sha).read_bytes()
            except OSError as exc:
                self._cannot_upload(sha, f"its file cannot be read: {exc}")
                continue
            if hashlib.sha256(data).hexdigest() != sha:
                self._cannot_upload(sha, "its file no longer matches its SHA-256")
            elif not 0 < len(data) <= MAX_PHOTO_BYTES:
                self._cannot_upload(sha, f"{len(data)} bytes, over {MAX_PHOTO_BYTES}")
            else:
                self._upload = _Upload(sha, data, subject, taken_at)
                return self._upload

    def _cannot_upload(self, sha: str, why: str) -> None:
        log.error("photo %s cannot be uploaded: %s", sha, why)
        with transaction(self._db):
            self._db.execute("UPDATE photos SET upload_error = ? WHERE sha256 = ?", [why, sha])
        self._count("photo_errors")

    def _restart_photo(self, up: _Upload) -> None:
        up.todo = list(range(up.count))
        up.inflight.clear()
        up.all_sent_at = None
        self._count("photo_resends")

    def _on_photo_ack(self, ack: PhotoAck) -> None:
        up = self._upload
        current = up is not None and up.sha256 == ack.sha256
        self._photo_timeouts = 0  # the hub takes photos: no back-off
        if not ack.stored and ack.missing is not None:
            if current:
                self._resend_missing(up, ack.missing)
            return
        if not ack.stored:
            log.warning("the hub refused photo %s (%s): sending it again", ack.sha256, ack.reason)
            self._count("photos_refused")
            if current:
                # Read again from disk and re-checked: the copy in memory may be what broke.
                self._upload = None
                self._count("photo_resends")
            return
        with no_fsync(self._db, self.synchronous), transaction(self._db):
            # Lost in a power cut, the photo is sent again and the hub acks it at once.
            marked = self._db.execute(
                "UPDATE photos SET uploaded_at = ? WHERE sha256 = ? AND uploaded_at IS NULL",
                [now_iso(), ack.sha256],
            ).rowcount
        self._count("photos_uploaded", marked)
        if current:
            self._upload = None

    def _resend_missing(self, up: _Upload, missing: list[int]) -> None:
        wanted = {i for i in missing if 0 <= i < up.count}
        if len(wanted) != len(missing):
            log.warning("the hub asked for chunks of photo %s it does not have (%d of them): "
                        "ignored", up.sha256, len(missing) - len(wanted))  # fmt: skip
        if not wanted:
            return  # nothing sensible asked: the ack timeout probes again
        log.info("the hub lacks %d of %d chunks of photo %s: sending those",
                 len(wanted), up.count, up.sha256)  # fmt: skip
        up.todo = sorted(set(up.todo) | wanted)
        up.all_sent_at = None
        self._count("photo_chunks_missing", len(wanted))
