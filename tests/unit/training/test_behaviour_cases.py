"""sentiment.training.behaviour_cases: the suite's cases, generated."""

from __future__ import annotations

import pytest

from sentiment.training.behaviour_cases import Capability, build_suite


@pytest.fixture(scope="module")
def suite() -> list[Capability]:
    return build_suite()


def test_the_suite_is_the_same_every_time(suite: list[Capability]) -> None:
    again = build_suite()
    assert [c.cases for c in again] == [c.cases for c in suite]


def test_every_capability_has_a_few_hundred_cases_of_its_kind(
    suite: list[Capability],
) -> None:
    names = {c.name for c in suite}
    assert {"plain", "negated_positive", "negated_negative", "contrast"} <= names
    for capability in suite:
        assert 100 <= len(capability.cases) <= 300, capability.name
        assert len(set(capability.cases)) == len(capability.cases)
        for case in capability.cases:
            if capability.kind == "mft":
                assert case.expected in {"positive", "negative"}
            else:
                assert case.perturbed and case.perturbed != case.text


def test_labels_follow_the_capability(suite: list[Capability]) -> None:
    by_name = {c.name: c for c in suite}
    assert {c.expected for c in by_name["negated_positive"].cases} == {"negative"}
    assert {c.expected for c in by_name["negated_negative"].cases} == {"positive"}
    for case in by_name["negated_negative"].cases:
        assert "at all" in case.text
    for case in by_name["contrast"].cases:
        assert any(w in case.text for w in (" but ", "hough "))
