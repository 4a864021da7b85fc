"""A camera that makes up its pictures: a colour test card with a timestamp and a counter.

For the demo and tests; no device, no thread. Each capture gives a different picture (the
counter and time change), so a photo store can tell them apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.camera import Camera, Photo, encode_jpeg

_BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192),
         (192, 0, 0), (0, 0, 192)]  # fmt: skip


class EmulatorCamera(Camera):
    def __init__(self, width: int = 640, height: int = 480, label: str = "doms camera") -> None:
        self.width, self.height = width, height
        self.label = label
        self.count = 0

    def capture(self, timeout: float = 10.0) -> Photo:
        """A new synthetic picture. Never raises."""
        from PIL import Image, ImageDraw

        self.count += 1
        taken_at = datetime.now(UTC)
        img = Image.new("RGB", (self.width, self.height), (16, 16, 16))
        draw = ImageDraw.Draw(img)
        bar = max(1, self.width // len(_BARS))
        for i, colour in enumerate(_BARS):
            draw.rectangle([i * bar, 0, (i + 1) * bar - 1, self.height * 2 // 3], fill=colour)
        text = f"{self.label} #{self.count}\n{taken_at.isoformat(timespec='milliseconds')}"
        draw.multiline_text((10, self.height * 2 // 3 + 10), text, fill=(255, 255, 255))
        return Photo(encode_jpeg(img), self.width, self.height, taken_at)

    def close(self) -> None:
        """Nothing to release. Never raises."""
