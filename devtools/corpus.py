"""The shipped corpus's review texts, for load tests, benchmarks and tests."""

from __future__ import annotations

import csv
import gzip
from functools import cache
from pathlib import Path

from sentiment.model.reviews import review_problem

CORPUS = Path(__file__).resolve().parents[1] / "data" / "rotten_tomatoes_reviews.csv.gz"


@cache
def corpus_reviews(path: Path = CORPUS) -> tuple[str, ...]:
    """Review texts from the corpus that the service accepts, in file order."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return tuple(text for text in texts if review_problem(text) is None)
