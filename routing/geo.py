"""Geography for routing: great-circle distances and postal-code centroids, offline.

Distances are haversine great-circle distances on a sphere of the IUGG mean Earth radius
(6371.0088 km); the road or air distance a parcel travels is longer, and
:mod:`routing.freight` applies a circuity factor where it matters (CO2).

Postal codes: US ZIP codes (``12345`` or ZIP+4 ``12345-6789``) resolve to the centroid that
the ``zipcodes`` package ships (its data is compiled into the package: no network at run
time). Other countries have no offline data here: such an order must carry its latitude and
longitude. An unknown or malformed code raises :class:`UnknownPostalCode`, never a guess.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

__all__ = [
    "EARTH_RADIUS_KM",
    "KM_PER_MILE",
    "UnknownPostalCode",
    "distance_matrix_km",
    "distances_km",
    "haversine_km",
    "haversine_miles",
    "postal_centroid",
]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
KM_PER_MILE = 1.609344


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in statute miles."""
    return haversine_km(lat1, lon1, lat2, lon2) / KM_PER_MILE


def distances_km(lats: np.ndarray, lons: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Distances in km from each of the points ``(lats[i], lons[i])`` (degrees) to one point."""
    return distance_matrix_km(lats, lons, np.array([lat]), np.array([lon]))[:, 0]


def distance_matrix_km(
    lats1: np.ndarray, lons1: np.ndarray, lats2: np.ndarray, lons2: np.ndarray
) -> np.ndarray:
    """The ``len(lats1) x len(lats2)`` matrix of great-circle distances in km (degrees in)."""
    p1 = np.radians(np.asarray(lats1, dtype=float))[:, None]
    p2 = np.radians(np.asarray(lats2, dtype=float))[None, :]
    dl = (
        np.radians(np.asarray(lons2, dtype=float))[None, :]
        - np.radians(np.asarray(lons1, dtype=float))[:, None]
    )
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


class UnknownPostalCode(ValueError):
    """A postal code with no offline centroid; ``str()`` says why and what to do."""


_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


@lru_cache(maxsize=65536)
def postal_centroid(code: str, country: str = "US") -> tuple[float, float]:
    """``(lat, lon)`` in degrees of the centroid of postal code ``code`` in ``country``
    (ISO 3166 alpha-2). Raises UnknownPostalCode for a malformed or unknown code, or a
    country without offline data (only US ZIP codes are shipped)."""
    country = country.strip().upper()
    raw = code.strip()
    if country != "US":
        raise UnknownPostalCode(
            f"no offline postal-code centroids for country {country!r} (only US ZIP codes "
            f"are shipped): give the destination's latitude and longitude instead"
        )
    m = _US_ZIP.match(raw)
    if m is None:
        hint = ""
        if raw.isdigit() and len(raw) in (3, 4):
            hint = " (did a spreadsheet drop leading zeros? ZIP codes have 5 digits)"
        raise UnknownPostalCode(f"{raw!r} is not a US ZIP code{hint}")
    import zipcodes  # imported on first use: the package loads its data then (~0.5 s)

    rows = zipcodes.matching(m.group(1))
    if not rows or not rows[0].get("lat"):
        raise UnknownPostalCode(f"US ZIP code {m.group(1)} is unknown to the zipcodes data")
    return float(rows[0]["lat"]), float(rows[0]["long"])
