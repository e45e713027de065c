"""Pure geofence computation: fence index, coordinate systems, per-person state machine."""

from geofence.errors import (
    GeofenceError,
    InvalidGeometryError,
    InvalidInputError,
    UnknownCrsError,
)
from geofence.index import FenceIndex
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, Crs
from geofence.zones import ZoneHits, ZoneIndex

__all__ = [
    "INSIDE",
    "OUTSIDE",
    "UNCERTAIN",
    "Crs",
    "FenceIndex",
    "GeofenceError",
    "InvalidGeometryError",
    "InvalidInputError",
    "UnknownCrsError",
    "ZoneHits",
    "ZoneIndex",
]
