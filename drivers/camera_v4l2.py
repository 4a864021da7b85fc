"""A USB webcam (or any V4L2 video device) through OpenCV, imported when first used."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

from drivers.camera import Camera, Photo
from drivers.errors import BadFrame, DeviceUnreachable


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise DeviceUnreachable(
            "Webcams need OpenCV: run `pip install opencv-python-headless` "
            "(or install doms with the camera extra)."
        ) from None
    return cv2


class V4l2Camera(Camera):
    """``device`` is ``/dev/video0`` (or an index); ``width``/``height`` are asked for, and
    the camera may pick the nearest size it has (the photo says what it got).

    A webcam keeps a few frames queued and adjusts exposure over its first frames, so on
    opening we skip ``warmup`` frames and before each photo drop ``stale`` queued ones.
    """

    def __init__(
        self,
        device: str | int,
        width: int | None = None,
        height: int | None = None,
        quality: int = 90,
        warmup: int = 5,
        stale: int = 2,
    ) -> None:
        self.device = device
        self.width, self.height = width, height
        self.quality = quality
        self.warmup, self.stale = warmup, stale
        self._cap: Any = None
        self._lock = threading.Lock()

    def capture(self, timeout: float = 10.0) -> Photo:
        """Grab a fresh frame and return it as JPEG.

        Raises DeviceUnreachable (OpenCV missing, no such camera, no frame), BadFrame.
        """
        with self._lock:
            cv2 = _cv2()
            cap = self._open(cv2)
            for _ in range(self.stale):
                cap.grab()
            ok, frame = cap.read()
            if not ok or frame is None:
                self._release()
                raise DeviceUnreachable(
                    f"Camera {self.device} gave no picture: check the cable, and that no other "
                    "program is using it."
                )
            taken_at = datetime.now(UTC)
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise BadFrame(f"Could not encode the picture from camera {self.device}.")
            height, width = frame.shape[:2]
            return Photo(buf.tobytes(), int(width), int(height), taken_at)

    def close(self) -> None:
        """Release the camera. Never raises."""
        with self._lock:
            self._release()

    def _open(self, cv2: Any) -> Any:
        if self._cap is not None:
            return self._cap
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise DeviceUnreachable(
                f"Cannot open camera {self.device}: check it is plugged in, and that the "
                "station user is in the 'video' group."
            )
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        for _ in range(self.warmup):
            cap.grab()
        self._cap = cap
        return cap

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            # a camera pulled out may fail to release; there is nothing to do about it
            with contextlib.suppress(Exception):
                cap.release()
