"""Decision codes, coordinate systems and array types shared by every geofence module."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np

INSIDE = np.int8(1)  # the accuracy disc lies wholly inside the area
OUTSIDE = np.int8(-1)  # ... wholly outside
UNCERTAIN = np.int8(0)  # it straddles the boundary: changes no state

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
CodeArray = np.ndarray[Any, np.dtype[np.int8]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


class Crs(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"  # Chinese map data and SDKs: offset several hundred metres
    BD09 = "bd09"  # Baidu's further offset of GCJ-02
