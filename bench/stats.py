"""Summary statistics the benchmarks share.

``pct`` is the rounded-rank percentile the latency benchmarks report (p50, p95, p99): one
definition, so that a p95 printed by one benchmark means what it means in the others.
(``bench.verify.percentile`` is the load run's nearest-rank percentile, on a 0..100 scale and
None for no values; its figures are compared run against run, so it stays as it is.)
"""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The value at rank ``round(q * (n - 1))`` of the sorted ``values`` (``q`` in 0..1).

    Raises IndexError for no values: a benchmark that may time nothing says what to print then."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
