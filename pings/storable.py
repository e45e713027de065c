"""What PostgreSQL's bigint, text and jsonb columns can hold: checked before a value reaches
them, so that the error names the field (a ping's attrs, an officer's input), not a query
argument, and one bad value never costs the rows stored beside it."""

from __future__ import annotations

import math
import re
from typing import Any

INT64_MAX = 2**63 - 1
MIN_INT64 = -(2**63)
# text columns cannot hold NUL, and UTF-8 cannot hold an unpaired surrogate
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> str:
    if UNSTORABLE.search(value):
        raise ValueError("must not contain NUL (\\u0000) characters or unpaired surrogates")
    return value


def storable_json(value: Any, where: str = "") -> Any:
    """`value` unchanged if jsonb can hold it; a ValueError naming the path inside it if not
    (orjson refuses integers beyond 64 bits, jsonb refuses \\u0000 in strings and keys)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            storable_json(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            _text_at(str(key), path)
            storable_json(item, path)
    else:
        _storable_scalar(value, where or "value")
    return value


def _storable_scalar(value: Any, where: str) -> None:
    if isinstance(value, str):
        _text_at(value, where)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT64 <= value <= INT64_MAX:
            raise ValueError(f"{where}: integers must fit 64 bits")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: numbers must be finite")


def _text_at(value: str, where: str) -> None:
    try:
        storable_text(value)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
