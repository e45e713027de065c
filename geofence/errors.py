"""Geofence errors; each is also the builtin it resembles.

GeofenceError
├── InvalidGeometryError (ValueError)  a feature, polygon or ring that cannot be read safely
├── UnknownCrsError (ValueError)       a coordinate system name we do not know
└── InvalidInputError (ValueError)     arrays given to classify that are not usable
"""

from __future__ import annotations


class GeofenceError(Exception):
    """Base of every error the geofence package raises on purpose."""


class InvalidGeometryError(GeofenceError, ValueError):
    """The message names the feature, polygon and ring, and says why."""


class UnknownCrsError(GeofenceError, ValueError):
    """The message names the argument and lists the known systems."""


class InvalidInputError(GeofenceError, ValueError):
    """The message names the argument (lat, lon, accuracy_m) and what is wrong with it."""
