"""sentiment.model.reviews: each rule is named by the text that breaks it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.model.reviews import (
    MAX_CHARS,
    MIN_CHARS,
    NUMBER_RE,
    review_pattern,
    review_problem,
    stripped_if_valid,
)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("ab", "review_too_short"),
        ("42", "review_is_number"),
        ("bad\x07film", "review_has_control_character"),
        ("x" * 5001, "review_too_long"),
        ("a fine film", None),
    ],
)
def test_review_problem_names_the_rule(text: str, rule: str | None) -> None:
    problem = review_problem(text)
    assert (problem[0] if problem else None) == rule


# Characters that sit on the rules' edges: digits (also non-ASCII ones), signs,
# whitespace that strips, allowed and forbidden control characters, unprintables.
EDGE_CHARS = "ab 9+-\t\n\r\x07\x1f\x7f\u0663\u00a0\u200b\u2028é"


def test_the_batch_check_agrees_with_the_rule_per_text() -> None:
    import random

    rng = random.Random(30)
    for _ in range(3000):
        texts = [
            "".join(rng.choices(EDGE_CHARS, k=rng.randint(0, 8)))
            for _ in range(rng.randint(1, 4))
        ]
        valid = all(review_problem(text) is None for text in texts)
        expected = [text.strip() for text in texts] if valid else None
        assert stripped_if_valid(texts) == expected, texts


@pytest.mark.parametrize(
    "texts",
    [
        ["a fine film", "x" * 5001],
        ["a fine film", "  +12  "],
        ["a fine film", "\u0663\u0663\u0663\u0663"],
        ["line one\nline two", "bad\x07film"],
        ["ok film", "ab"],
    ],
)
def test_one_broken_text_fails_the_batch(texts: list[str]) -> None:
    assert stripped_if_valid(texts) is None


def test_the_batch_check_strips_and_allows_tabs_and_newlines() -> None:
    texts = ["  a fine film\n", "good\tand\r\nmoving"]
    assert stripped_if_valid(texts) == ["a fine film", "good\tand\r\nmoving"]


def test_a_text_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        stripped_if_valid(["a fine film", 1234])  # type: ignore[list-item]


# The JSON schema of a review (sentiment.http.schemas) is review_pattern() with the
# length bounds. A validator searches the pattern (JSON Schema does not anchor it)
# and counts code points for the lengths, as these helpers do.
PATTERN = re.compile(review_pattern())
MATH_DIGITS = "\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2"  # 𝟏𝟐𝟑𝟒, beyond the BMP


def schema_accepts(text: str) -> bool:
    return MIN_CHARS <= len(text) <= MAX_CHARS and PATTERN.search(text) is not None


def beyond_the_bmp_number(text: str) -> bool:
    """The one documented difference: a number with digits the pattern cannot name.

    ECMA-262 without the ``u`` flag reads a string as UTF-16 units, so a class of
    digits beyond the Basic Multilingual Plane cannot be spelt there; the pattern
    names only the BMP's 370 digits, and lets these numbers through to the 400.
    """
    stripped = text.strip()
    return bool(NUMBER_RE.fullmatch(stripped)) and max(stripped) > "\uffff"


def assert_schema_agrees(text: str) -> None:
    valid = review_problem(text) is None
    if beyond_the_bmp_number(text):
        assert not valid and schema_accepts(text), repr(text)
    else:
        assert schema_accepts(text) == valid, repr(text)


WHITESPACE = "".join(filter(str.isspace, map(chr, range(0x10000))))  # what strip strips
# Whitespace (Python's, ECMA's \s adds \ufeff and lacks \x85), control characters
# allowed and not, digits of several scripts and beyond the BMP, signs, letters.
SCHEMA_EDGE_CHARS = (
    WHITESPACE + "\ufeff\u200b" + "\x00\x07\x1b\x7f" + "0189+-"
    "\u0661\u0662\u0663\u06f3\u0967\uff11\u00b2\u2155" + MATH_DIGITS + "ab\u00e9🎬"
)


@pytest.mark.parametrize(
    "text",
    [
        "good",
        "abc",
        "  ab  ",
        "  abcd  ",
        "\t\tgood\r\n",
        "tab\there",
        "bad\x07film",
        "\x7fgood",
        "good\x7f",
        "good\x0bfilm",
        "+12",
        "12a",
        "12ab",
        "-1234",
        "  +1234\n",
        "1234\n",
        "+-12",
        "12 34",
        "1.5e3",
        "\u0661\u0662\u0663",
        "\u0661\u0662\u0663\u0664",
        "\u00a0\u0661\u0662\u0663\u0664\u3000",
        "\uff11\uff12\uff13\uff14",
        "\u00b2\u00b2\u00b2\u00b2",  # a digit to isdigit, not to \d: a review
        "\u2000\u2001ab\u2028\u2029",
        "\u2000\u2001abcd\u2028\u2029",
        "\x85\x85abcd",
        "\x1cabcd",  # whitespace to strip, but a control character first
        "\ufeffabc",  # not whitespace to Python: 4 characters
        "\u200b\u200bab",
        "🎬🎬",
        "  🎬🎬🎬🎬  ",
        "x" * MAX_CHARS,
        "x" * (MAX_CHARS + 1),
        " " * (MAX_CHARS - 4) + "abcd",
        " " * (MAX_CHARS - 3) + "abcd",
        "",
        "\n",
        MATH_DIGITS,
        " +" + MATH_DIGITS[:2] + "\u0661\u0662 ",
    ],
)
def test_the_schema_pattern_accepts_what_the_rules_accept(text: str) -> None:
    assert_schema_agrees(text)


@settings(max_examples=1000, database=None, deadline=None)
@given(st.text(st.sampled_from(SCHEMA_EDGE_CHARS) | st.characters(), max_size=10))
def test_the_schema_pattern_agrees_on_generated_text(text: str) -> None:
    assert_schema_agrees(text)


def test_the_schema_pattern_knows_every_whitespace_and_digit() -> None:
    for space in WHITESPACE:  # each stripped, or a control character
        for text in (space + "abc", "ab" + space + "c", f"{space}abcd{space}"):
            assert_schema_agrees(text)
    for digit in filter(str.isdecimal, map(chr, range(0x110000))):  # \d
        for text in (digit * 4, f" -{digit}{digit}1 ", digit * 3 + "a"):
            assert_schema_agrees(text)


def test_the_only_difference_is_numbers_beyond_the_bmp() -> None:
    assert review_problem(MATH_DIGITS)[0] == "review_is_number"
    assert schema_accepts(MATH_DIGITS)
    assert not schema_accepts("\uff11\uff12\uff13\uff14")  # fullwidth: in the BMP


# The same strings in ECMA-262 itself, when node is there (the CI installs it). With
# the `u` flag it reads code points, as JSON Schema validators such as ajv do: the
# same answers as Python. Without it, in UTF-16 units, a character beyond the BMP
# counts twice toward MIN_CHARS: "  🎬🎬  " passes minLength and the pattern there.
ECMA_CASES = [
    "good",
    "  ab  ",
    "+12",
    "12a",
    "\u0661\u0662\u0663\u0664",
    "\t\tgood\n",
    "go\x7fod",
    "\ufeffabc",
    "\x85\x85abcd",
    "ab\u3000cd",
    "1234\n",
    "\u00a0\u00a012 ",
    "🎬🎬🎬🎬",
    "  🎬🎬  ",
]
ECMA_TEST = """
const [pattern, cases] = JSON.parse(require("fs").readFileSync(0, "utf8"));
const flags = ["u", ""].map((f) => new RegExp(pattern, f));
console.log(JSON.stringify(cases.map((text) => flags.map((re) => re.test(text)))));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_ecma_regexps_read_the_pattern_as_python_does() -> None:
    answer = subprocess.run(
        ["node", "-e", ECMA_TEST],
        input=json.dumps([review_pattern(), ECMA_CASES]),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for text, (unicode, utf16) in zip(
        ECMA_CASES, json.loads(answer.stdout), strict=True
    ):
        python = PATTERN.search(text) is not None
        assert unicode == python, repr(text)
        assert utf16 == (python or text == "  🎬🎬  "), repr(text)
