"""A camera that drops its pictures into a folder (FTP upload, SD-card sync, tethering).

The photo is the newest picture that appeared since the camera was opened and has not
been returned yet. Cameras and uploaders write a file in several pieces, so a file counts
as complete once its size has not changed for ``settle`` s and it decodes completely;
until then we wait for it rather than take an older one.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from drivers.camera import Camera, Photo
from drivers.errors import BadFrame, DeviceUnreachable

PICTURES = (".jpg", ".jpeg", ".png")


class FolderCamera(Camera):
    """``folder`` is watched; files already there when the camera was made are old."""

    def __init__(self, folder: str | Path, settle: float = 0.3, poll: float = 0.05) -> None:
        self.folder = Path(folder)
        self.settle = settle
        self.poll = poll
        # File times come from the kernel's coarse clock, a few ms behind time_ns().
        self.since = time.time_ns() - 20_000_000
        self._taken: set[tuple[str, int]] = set()  # (name, mtime_ns) already returned
        # The time alone cannot tell a file written just before we started (the margin),
        # so what is there now is old too. Reading a folder listing touches no device.
        with contextlib.suppress(OSError):  # no folder yet: capture() says so
            self._taken = {(e.name, e.stat().st_mtime_ns) for e in os.scandir(self.folder)}

    def capture(self, timeout: float = 10.0) -> Photo:
        """Return the newest new picture in the folder, waiting up to ``timeout`` s.

        Raises DeviceUnreachable (no folder, nothing new within ``timeout``), BadFrame (the
        newest file was still unreadable at ``timeout``).
        """
        deadline = time.monotonic() + timeout
        watching: tuple[str, int, int] | None = None  # name, size, mtime of the candidate
        steady_since = 0.0
        while True:
            newest = self._newest()
            now = time.monotonic()
            if newest is not None:
                if newest != watching:
                    watching, steady_since = newest, now
                elif now - steady_since >= self.settle:
                    photo = self._read(newest)
                    if photo is not None:
                        return photo
            if now >= deadline:
                if watching is not None and watching == newest:
                    # A stalled upload looks the same; only the caller's patience ends it.
                    raise BadFrame(f"{watching[0]} in {self.folder} is not a readable picture.")
                raise DeviceUnreachable(
                    f"No new picture in {self.folder} within {timeout:g} s: check the camera "
                    "is on and saving to that folder."
                )
            time.sleep(self.poll)

    def close(self) -> None:
        """Nothing to release. Never raises."""

    def _newest(self) -> tuple[str, int, int] | None:
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise DeviceUnreachable(
                f"Cannot read the camera folder {self.folder}: {exc.strerror or exc}."
            ) from None
        best: tuple[int, str, int] | None = None
        for e in entries:
            name = e.name
            # Uploaders write to hidden or .part/.tmp names and rename when done.
            if name.startswith(".") or not name.lower().endswith(PICTURES):
                continue
            try:
                st = e.stat()
            except OSError:
                continue  # renamed or deleted while we looked
            if not e.is_file() or st.st_mtime_ns < self.since:
                continue
            if (name, st.st_mtime_ns) in self._taken:
                continue
            if best is None or st.st_mtime_ns > best[0]:
                best = (st.st_mtime_ns, name, st.st_size)
        return None if best is None else (best[1], best[2], best[0])

    def _read(self, candidate: tuple[str, int, int]) -> Photo | None:
        name, size, mtime_ns = candidate
        if size == 0:
            return None
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            return None
        try:
            photo = Photo.from_image_bytes(
                data, taken_at=datetime.fromtimestamp(mtime_ns / 1e9, UTC)
            )
        except BadFrame:
            return None  # still being written (a stalled writer): keep waiting
        self._taken.add((name, mtime_ns))
        return photo
