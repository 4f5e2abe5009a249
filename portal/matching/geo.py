"""How far apart two postcode districts are, from their centroids."""

from __future__ import annotations

import math
from collections.abc import Mapping

from portal.directory.models import postcode_district

# The mean radius of the Earth (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088

Centroids = Mapping[str, tuple[float, float]]

__all__ = [
    "EARTH_RADIUS_KM",
    "Centroids",
    "district_distance_km",
    "haversine_km",
    "postcode_district",
]


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in degrees."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def district_distance_km(centroids: Centroids, one: str | None, other: str | None) -> float | None:
    """Kilometres between two districts' centroids; None when either is not known."""
    if one is None or other is None:
        return None
    if one == other:
        return 0.0 if one in centroids else None
    a, b = centroids.get(one), centroids.get(other)
    if a is None or b is None:
        return None
    return haversine_km(a, b)
