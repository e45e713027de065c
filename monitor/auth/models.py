"""Officer identity as every route sees it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OFFICER = "officer"
    OVERSIGHT = "oversight"


@dataclass(frozen=True)
class Officer:
    id: int
    username: str
    display_name: str
    role: Role
    jurisdiction_id: int
    # '/1/5/': the officer sees everything whose path starts with this
    jurisdiction_path: str

    @property
    def can_write(self) -> bool:
        return self.role is not Role.OVERSIGHT

    def sees(self, jurisdiction_path: str) -> bool:
        return jurisdiction_path.startswith(self.jurisdiction_path)
