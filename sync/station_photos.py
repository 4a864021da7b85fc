"""The photo half of :class:`sync.station.StationSync` (PROTOCOL.md, "Photo files"): upload
the station's photos to the hub in 64 KiB chunks, one photo at a time, only while the
event outbox is empty, and mark each ``uploaded_at`` once the hub has acknowledged the
whole file.

Events first. Before every chunk the sender checks the outbox: an event waiting stops the
photo until the hub has acknowledged it, so a new event waits behind at most the chunks
already handed to the broker (``WINDOW``), never behind a whole photo. Chunks go out as
the broker confirms earlier ones (``MqttLink(on_published=...)``).

Failure. After a dropped link the photo resumes from its first chunk the broker had not
confirmed; when the hub has not acknowledged a photo ``photo_ack_timeout`` seconds after
its last chunk (a chunk lost in a broker restart, a hub restarted mid-photo) it is sent
again whole, as it is when the hub refuses it (the assembled file did not match its hash).
A photo this station cannot send (its file missing, no longer matching its hash, or larger
than the protocol allows) gets ``upload_error``, is logged, and is not tried again.

A mixin of :class:`~sync.station.StationSync`, run only on its worker thread: it owns
``_upload`` and needs no lock for it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sync.messages import CHUNK_BYTES, MAX_PHOTO_BYTES, PhotoAck, PhotoChunk, encode
from sync.photo_files import photo_path, root_beside
from sync.station_apply import transaction
from sync.station_db import no_fsync, now_iso, outbox_depth

log = logging.getLogger(__name__)

WINDOW = 4  # chunks handed to the broker and not yet confirmed by it
PHOTO_ACK_TIMEOUT_S = 30.0  # no PhotoAck this long after the last chunk: send it again


@dataclass(slots=True)
class _Upload:
    sha256: str
    data: bytes
    subject: str
    taken_at: str
    next_index: int = 0
    inflight: list[tuple[int, Any]] = field(default_factory=list)  # (index, MQTTMessageInfo)
    all_sent_at: float | None = None  # monotonic: every chunk confirmed by the broker

    @property
    def count(self) -> int:
        return -(-len(self.data) // CHUNK_BYTES)


class PhotoSender:
    """Uploads photos and handles the hub's PhotoAcks; see the module docstring."""

    def _init_photos(self) -> None:
        self._upload: _Upload | None = None
        self._photos_root = root_beside(self.db_path)

    def _photo_link_down(self) -> None:
        up = self._upload
        if up is None:
            return
        unconfirmed = [index for index, info in up.inflight if not info.is_published()]
        if unconfirmed:
            # Resume from the first chunk the broker had not confirmed.
            up.next_index = min(unconfirmed)
            up.all_sent_at = None
        up.inflight.clear()

    def _check_photo_ack(self, now: float) -> None:
        up = self._upload
        if up is not None and up.all_sent_at and now - up.all_sent_at > self.photo_ack_timeout:
            log.info("no ack for photo %s: sending it again", up.sha256)
            self._count("photo_ack_timeouts")
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
        while len(up.inflight) < WINDOW and up.next_index < up.count:
            if outbox_depth(self._db):
                return  # events first: they are what the floor is waiting on
            info = link.publish(self._photo_topic, encode(self._chunk(up, up.next_index)))
            if info.rc != 0:
                return  # gone offline: resumes after the reconnect
            up.inflight.append((up.next_index, info))
            up.next_index += 1
            self._count("photo_chunks_sent")
        if up.next_index == up.count and not up.inflight and up.all_sent_at is None:
            up.all_sent_at = time.monotonic()

    def _chunk(self, up: _Upload, index: int) -> PhotoChunk:
        return PhotoChunk(
            station=self.station_id,
            sha256=up.sha256,
            size=len(up.data),
            index=index,
            count=up.count,
            data=up.data[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES],
            subject=up.subject,
            taken_at=up.taken_at,
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
        up.next_index = 0
        up.inflight.clear()
        up.all_sent_at = None
        self._count("photo_resends")

    def _on_photo_ack(self, ack: PhotoAck) -> None:
        up = self._upload
        current = up is not None and up.sha256 == ack.sha256
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
