"""The camera's thread: takes a photo when asked, stores it and records it, then reports.

Capturing blocks (a webcam warms up, a folder camera waits for its upload) and so do the
file writes and the thumbnail, so all of it happens here, never on the UI thread. Like the
print workers, this thread owns its own database connection and reports through plain
callbacks that the app turns into Textual messages.
"""

from __future__ import annotations

import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivers import urls
from drivers.camera import Camera
from drivers.errors import DeviceError
from station.inspection import record_photo
from station.photos import PhotoStore, StoredPhoto
from station.store.db import open_db

log = logging.getLogger(__name__)

CAPTURE_TIMEOUT_S = 10.0
_tokens = itertools.count(1)


@dataclass(frozen=True, slots=True)
class PhotoRequest:
    """A photo of ``subject`` by ``operator``; ``token`` tells the asker its answer."""

    subject: str
    operator: str
    token: int = 0

    @classmethod
    def new(cls, subject: str, operator: str) -> PhotoRequest:
        return cls(subject, operator, next(_tokens))


@dataclass(frozen=True, slots=True)
class PhotoResult:
    """What came of a request: the stored photo, or the error in words for the operator."""

    request: PhotoRequest
    stored: StoredPhoto | None = None
    error: str | None = None


class CameraWorker(threading.Thread):
    def __init__(
        self,
        url: str,
        db_path: str | Path,
        station_id: str,
        *,
        on_result: Callable[[PhotoResult], None],
        on_status: Callable[[str, str | None], None],
        timeout: float = CAPTURE_TIMEOUT_S,
    ) -> None:
        super().__init__(name="camera", daemon=True)
        self.url = url
        self.db_path = db_path
        self.station_id = station_id
        self.on_result = on_result
        self.on_status = on_status
        self.timeout = timeout
        self._requests: queue.Queue[PhotoRequest | None] = queue.Queue()
        self._camera: Camera | None = None
        self._problem: str | None = None

    def take(self, request: PhotoRequest) -> None:
        """Queue ``request``; its PhotoResult comes through ``on_result``."""
        self._requests.put(request)

    def stop(self) -> None:
        self._requests.put(None)

    def run(self) -> None:
        db = open_db(self.db_path)
        store = PhotoStore.beside(db, self.db_path)
        try:
            self._open()  # a wrong URL shows in the device bar at once, not at the first photo
            while (request := self._requests.get()) is not None:
                self.on_result(self._take(request, db, store))
        finally:
            self._close()
            db.close()

    def _take(self, request: PhotoRequest, db, store: PhotoStore) -> PhotoResult:
        try:
            camera = self._open()
            if camera is None:
                return PhotoResult(request, error=self._problem)
            photo = camera.capture(self.timeout)
        except DeviceError as exc:
            # A webcam pulled out and plugged back in needs opening again.
            self._close()
            self._report(str(exc))
            return PhotoResult(request, error=str(exc))
        except Exception as exc:  # a driver bug must not kill the camera thread
            log.exception("camera failed")
            self._close()
            self._report(f"Camera failed: {exc}")
            return PhotoResult(request, error=f"Camera failed: {exc}")
        self._report(None)
        try:
            stored = record_photo(
                db, store, self.station_id, photo, request.operator, request.subject
            )
        except (OSError, sqlite3.Error) as exc:
            log.exception("photo not saved")
            return PhotoResult(request, error=f"The photo could not be saved: {exc}")
        return PhotoResult(request, stored=stored)

    def _open(self) -> Camera | None:
        if self._camera is None:
            try:
                self._camera = urls.open_camera(self.url)
            except DeviceError as exc:
                self._report(str(exc))
        return self._camera

    def _close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()

    def _report(self, problem: str | None) -> None:
        if problem != self._problem:
            self._problem = problem
            self.on_status("camera", problem)
