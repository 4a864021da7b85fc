"""Render ZPL with zplkit and read its barcodes with zxing-cpp, for the label tests."""

from __future__ import annotations

import zplkit
import zxingcpp
from PIL import Image


def render(zpl: bytes, width: int = 812, height: int = 1218) -> list[Image.Image]:
    """Every label in ``zpl`` as a greyscale image (0 black, 255 white)."""
    doc = zplkit.render(zpl, zplkit.Options(profile="zd621", width=width, height=height, dpi=203))
    images = []
    for scene in doc.labels:
        r = scene.rasterize()
        images.append(Image.frombytes("L", (r.width, r.height), r.pixels))
    return images


def barcodes(image: Image.Image) -> list[zxingcpp.Barcode]:
    """Every barcode zxing-cpp finds in ``image``, top to bottom."""
    found = zxingcpp.read_barcodes(image)
    return sorted(found, key=lambda b: b.position.top_left.y)
