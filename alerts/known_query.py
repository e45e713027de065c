"""Unknown query parameters are refused (422 naming each), not ignored: a misspelt filter
(`?satus=outside`) would otherwise answer the whole list as if it had been applied.

Put `dependencies=[RefuseUnknownQuery]` on a list route; the parameters it knows are those its
signature (and its dependencies') declare, as FastAPI's model of the route lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters the route and its dependencies declare, by the name a client
    sends (the alias). A walk of a few dependants: cheaper than caching it is worth."""
    names: set[str] = set()
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        names.update(param.alias for param in dependant.query_params)
        dependants.extend(dependant.dependencies)
    return frozenset(names)


def unknown_issues(sent: list[str], known: frozenset[str]) -> list[dict[str, Any]]:
    """One validation issue per unknown name, in the order sent, each naming the known ones."""
    listed = ", ".join(sorted(known)) or "none"
    unknown = dict.fromkeys(name for name in sent if name not in known)
    return [
        {
            "loc": ("query", name),
            "msg": f"unknown query parameter; this route takes: {listed}",
            "type": "extra_forbidden",
        }
        for name in unknown
    ]


async def refuse_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return  # not routed by FastAPI: nothing declared to hold the request to
    issues = unknown_issues(list(request.query_params.keys()), query_names(route))
    if issues:
        raise RequestValidationError(issues)


RefuseUnknownQuery = Depends(refuse_unknown_query)
