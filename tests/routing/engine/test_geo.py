"""Great-circle distances and ZIP-code centroids, offline."""

from __future__ import annotations

import numpy as np
import pytest

from routing import geo


def test_haversine_matches_known_distances():
    # New York (JFK) - Los Angeles (LAX): 3,983 km on the WGS-84 ellipsoid; a sphere is
    # within 0.5 % of that.
    jfk_lax = geo.haversine_km(40.6413, -73.7781, 33.9416, -118.4085)
    assert jfk_lax == pytest.approx(3983, rel=0.005)
    assert geo.haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=0.01)
    assert geo.haversine_miles(0, 0, 0, 1) == pytest.approx(69.09, abs=0.01)
    assert geo.haversine_km(10, 20, 10, 20) == 0


def test_vectorised_distances_equal_the_scalar_ones():
    lats, lons = np.array([40.7, 34.0, 41.9]), np.array([-74.0, -118.2, -87.6])
    d = geo.distances_km(lats, lons, 29.76, -95.37)
    assert d == pytest.approx(
        [geo.haversine_km(a, b, 29.76, -95.37) for a, b in zip(lats, lons, strict=True)]
    )
    m = geo.distance_matrix_km(lats, lons, lats, lons)
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 0) and np.allclose(m, m.T)


def test_zip_code_centroids_come_from_the_bundled_data():
    lat, lon = geo.postal_centroid("10001")
    assert (lat, lon) == pytest.approx((40.75, -74.0), abs=0.01)
    assert geo.postal_centroid("90210-1234") == geo.postal_centroid("90210")
    assert geo.postal_centroid(" 02134 ", "us") == pytest.approx((42.35, -71.13), abs=0.02)


def test_unknown_or_malformed_codes_are_refused_clearly():
    with pytest.raises(geo.UnknownPostalCode, match="00000 is unknown"):
        geo.postal_centroid("00000")
    with pytest.raises(geo.UnknownPostalCode, match="leading zeros"):
        geo.postal_centroid("2134")
    with pytest.raises(geo.UnknownPostalCode, match="not a US ZIP code"):
        geo.postal_centroid("SW1A 1AA")
    with pytest.raises(geo.UnknownPostalCode, match="country 'CA'"):
        geo.postal_centroid("K1A 0B1", "CA")
