"""Cameras for inspectors: the interface, the photo it returns, and JPEG helpers.

Drivers: ``camera_v4l2.V4l2Camera`` (a webcam through OpenCV), ``camera_folder.FolderCamera``
(a camera that drops files into a folder), ``emulators.camera.EmulatorCamera`` (synthetic
frames). Get one from a URL with :func:`drivers.urls.open_camera`.
"""

from __future__ import annotations

import abc
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from drivers.errors import BadFrame


@dataclass(frozen=True, slots=True)
class Photo:
    """One picture: JPEG bytes, their size in pixels, and when it was taken (UTC)."""

    jpeg: bytes
    width: int
    height: int
    taken_at: datetime

    @classmethod
    def from_image_bytes(cls, data: bytes, taken_at: datetime | None = None) -> Photo:
        """A Photo from JPEG (kept byte for byte) or another format Pillow reads (re-encoded).

        Raises BadFrame if the bytes are not a complete image.
        """
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # a truncated file fails here, not later in the photo store
                width, height = img.size
                if img.format != "JPEG":
                    data = encode_jpeg(img)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise BadFrame(f"Not a complete picture: {exc}.") from None
        return cls(data, width, height, taken_at or datetime.now(UTC))


def encode_jpeg(img, quality: int = 90) -> bytes:  # img: PIL.Image.Image
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


class Camera(abc.ABC):
    """A camera. Blocking calls: run them in a thread worker."""

    @abc.abstractmethod
    def capture(self, timeout: float = 10.0) -> Photo:
        """Take (or collect) one photo and return it.

        Raises DeviceUnreachable (no camera, no picture within ``timeout``), BadFrame
        (the picture could not be read).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the camera. Never raises."""
