"""How fast this machine is today, so tables from different days can be put side by side.

The machines this project is measured on differ from one day to the next by more than any
single optimisation (the same code served 5,419 single-ping requests/s one day and 2,150 on
another). Every table therefore carries one fixed pure-Python figure: the best of five runs of
`sum(range(10_000_000))`, in milliseconds (lower is faster).
"""

from __future__ import annotations

import timeit


def reference_ms() -> float:
    return min(timeit.repeat("sum(range(10_000_000))", number=1, repeat=5)) * 1000


def describe() -> str:
    return f"machine reference: `sum(range(10_000_000))` best of 5 = {reference_ms():.0f} ms"
