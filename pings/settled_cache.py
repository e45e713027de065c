"""Fleet-sized caches (ingest's devices and orders, the worker's persons) that Python's garbage
collector does not walk.

CPython leaves a dict out of its collections while every key and value in it is untracked: a
tuple of plain values is untracked once a collection has examined it, and a str, bytes, int or
float never is tracked. But each newly made tuple is tracked until then, and inserting one tracks
the whole dict again: every full collection then walks every entry until two full
collections have passed with no insert. Under a fleet's trickle of first lookups and changes,
the dict never got the chance (docs/decisions/0026-fleet-caches-and-the-collector.md).

New entries therefore wait in a young dict, small enough that walking it costs nothing. Once
the collector has untracked an entry (young collections do, one or two of them, each a few
hundred allocations apart), it settles into the old dict, which is never given a tracked object
and so is never walked. An entry that stays tracked (a dataclass) stays young, where the
collector had to walk it anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# settle once the young dict has grown by this many entries (then by its size again, so that
# entries which never settle cost amortised O(1) per insert)
SETTLE_EVERY = 256


class SettledCache(Generic[K, V]):
    """The part of a dict's interface the caches use; a key is in at most one of the two dicts."""

    def __init__(self) -> None:
        self._old: dict[K, V] = {}
        self._young: dict[K, V] = {}
        self._settle_at = SETTLE_EVERY

    def get(self, key: K) -> V | None:
        value = self._old.get(key)
        return self._young.get(key) if value is None else value

    def __setitem__(self, key: K, value: V) -> None:
        self._old.pop(key, None)
        self._young[key] = value
        if len(self._young) >= self._settle_at:
            self.settle()

    def pop(self, key: K) -> V | None:
        value = self._old.pop(key, None)
        young = self._young.pop(key, None)
        return young if value is None else value

    def clear(self) -> None:
        self._old.clear()
        self._young.clear()
        self._settle_at = SETTLE_EVERY

    def __len__(self) -> int:
        return len(self._old) + len(self._young)

    def __contains__(self, key: object) -> bool:
        return key in self._old or key in self._young

    @property
    def unsettled(self) -> int:
        """Entries still waiting in the young dict."""
        return len(self._young)

    def settle(self) -> int:
        """Move the young entries the collector has untracked into the old dict; how many."""
        settled = [
            (key, value)
            for key, value in self._young.items()
            if not gc.is_tracked(key) and not gc.is_tracked(value)
        ]
        for key, value in settled:
            del self._young[key]
            self._old[key] = value
        self._settle_at = len(self._young) + max(len(self._young), SETTLE_EVERY)
        return len(settled)

    def is_walked(self) -> bool:
        """Whether a full collection walks the old dict (never, unless something is wrong)."""
        return gc.is_tracked(self._old)
