"""Reading Prometheus text expositions in tests."""

from __future__ import annotations


def sample_sum(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``.

    Only labelled samples (``name{...} value``) count, so ``name_created`` and
    the family's other series never do.
    """
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + "{") and all(
            f'{key}="{value}"' in line for key, value in labels.items()
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total
