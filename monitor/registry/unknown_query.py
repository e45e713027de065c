"""Unknown query parameters refused, not ignored: `?limt=5` silently listing 100 rows would
look like an answer to the question asked."""

from __future__ import annotations

from collections.abc import Set

from fastapi import Request
from fastapi.exceptions import RequestValidationError


def refuse_unknown_query(request: Request, known: Set[str]) -> None:
    """The same 422 as a bad value, naming the first unknown parameter."""
    for name in request.query_params:
        if name not in known:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", name),
                        "msg": f"unknown parameter; this route takes {', '.join(sorted(known))}",
                        "type": "extra_forbidden",
                    }
                ]
            )
