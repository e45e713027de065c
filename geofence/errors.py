"""Geofence errors; each is also the builtin it resembles.

GeofenceError
├── InvalidGeometryError (ValueError)  a ring or feature that cannot be read safely
├── UnknownCrsError (ValueError)       a coordinate system name we do not know
└── InvalidInputError (ValueError)     arrays given to classify that are not usable
"""

from __future__ import annotations


class GeofenceError(Exception):
    pass


class InvalidGeometryError(GeofenceError, ValueError):
    pass


class UnknownCrsError(GeofenceError, ValueError):
    pass


class InvalidInputError(GeofenceError, ValueError):
    pass
