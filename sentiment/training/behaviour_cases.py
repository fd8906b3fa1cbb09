"""The behaviour suite's cases, generated from templates and word lists.

A few hundred cases per capability (:class:`Capability`), of three kinds:
``mft`` (one text, one expected label), ``inv`` (a perturbation that must not
change the label) and ``dir`` (one that must lower P(positive)). The word lists
are data, in :mod:`sentiment.training.behaviour_words`; running the suite is
:mod:`sentiment.training.behaviour`. A fixed seed: the same suite every run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

from sentiment.model.labels import NEGATIVE, POSITIVE
from sentiment.training.behaviour_words import (
    CONTRAST_TEMPLATES,
    INTENSIFIED_TEMPLATES,
    INTENSIFIERS,
    NAMES,
    NEGATED_NEGATIVE_TEMPLATES,
    NEGATED_POSITIVE_TEMPLATES,
    NEGATIVE_CLAUSES,
    NEGATIVE_WORDS,
    NEUTRAL_SENTENCES,
    PLACES,
    PLAIN_TEMPLATES,
    POSITIVE_WORDS,
    THINGS,
)

CASES_PER_CAPABILITY = 300
SEED = 20201


def article(word: str) -> str:
    """``word`` with its indefinite article."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def fill(template: str, **slots: str) -> str:
    """A template with its slots, ``a_word`` being ``word`` with its article."""
    if "word" in slots:
        slots["a_word"] = article(slots["word"])
    return template.format(**slots)


@dataclass(frozen=True)
class Case:
    """One test: texts to score and what must hold.

    Attributes:
        text: the text (for ``mft``) or the original (``inv``, ``dir``).
        expected: the label an ``mft`` case must get.
        perturbed: the changed text of an ``inv`` or ``dir`` case.
    """

    text: str
    expected: str | None = None
    perturbed: str | None = None


@dataclass(frozen=True)
class Capability:
    """A named set of cases of one kind (``mft``, ``inv`` or ``dir``)."""

    name: str
    kind: str
    group: str
    description: str
    cases: tuple[Case, ...]


def sample(items: Sequence[Case], rng: random.Random, size: int) -> tuple[Case, ...]:
    """At most ``size`` items, in a stable random order."""
    chosen = list(items)
    rng.shuffle(chosen)
    return tuple(chosen[:size])


def labelled(
    templates: Iterable[str], words: Iterable[str], label: str, **extra: list[str]
) -> list[Case]:
    """Every template filled with every word, thing and extra slot values."""
    keys = list(extra)
    cases = []
    for template, word, thing, *values in product(
        templates, words, THINGS, *extra.values()
    ):
        slots = dict(zip(keys, values, strict=True))
        cases.append(Case(fill(template, word=word, thing=thing, **slots), label))
    return cases


def contrast_cases() -> list[Case]:
    """Contrasts ("{A}, but {B}" and friends): the label is the one of B."""
    cases = []
    for template, thing, other in product(CONTRAST_TEMPLATES, THINGS, THINGS):
        if thing == other:
            continue
        for first_words, second_words, label in (
            (NEGATIVE_WORDS, POSITIVE_WORDS, POSITIVE),
            (POSITIVE_WORDS, NEGATIVE_WORDS, NEGATIVE),
        ):
            for first, second in zip(first_words, second_words[::-1], strict=True):
                text = template.format(
                    thing=thing, other=other, first=first, second=second
                )
                cases.append(Case(text, label))
    return cases


def base_sentences() -> list[Case]:
    """Plain labelled sentences the invariance and directional tests perturb."""
    return labelled(PLAIN_TEMPLATES + INTENSIFIED_TEMPLATES[:1], POSITIVE_WORDS,
                    POSITIVE, intensifier=INTENSIFIERS[:1]) + labelled(
        PLAIN_TEMPLATES + INTENSIFIED_TEMPLATES[:1], NEGATIVE_WORDS, NEGATIVE,
        intensifier=INTENSIFIERS[:1],
    )  # fmt: skip


def with_typo(text: str, rng: random.Random) -> str:
    """Two adjacent, different letters of one word of at least four letters swapped."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    index = rng.choice(candidates)
    word = words[index]
    stem = word.rstrip(".,!?")
    position = rng.choice([i for i in range(len(stem) - 1) if stem[i] != stem[i + 1]])
    words[index] = (
        word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    )
    return " ".join(words)


def sentence_body(text: str) -> str:
    """``text`` with its first letter lower-cased, to follow "X said"."""
    return text[0].lower() + text[1:]


def invariance_cases(rng: random.Random) -> dict[str, list[Case]]:
    """Perturbations that must not change the label, by kind."""
    bases = base_sentences()
    names, places, neutral, typos, casing, punctuation = [], [], [], [], [], []
    for case in bases:
        text = case.text
        body = sentence_body(text)
        names.append(Case(text, None, f"{rng.choice(NAMES)} said {body}"))
        places.append(Case(text, None, f"{text} I saw it in {rng.choice(PLACES)}."))
        neutral.append(
            Case(text, None, f"{rng.choice(NEUTRAL_SENTENCES)} {text}")
            if rng.random() < 0.5
            else Case(text, None, f"{text} {rng.choice(NEUTRAL_SENTENCES)}")
        )
        typos.append(Case(text, None, with_typo(text, rng)))
        casing.append(Case(text, None, text.upper() if rng.random() < 0.5 else body))
        punctuation.append(
            Case(text, None, text.rstrip(".") + rng.choice(["!", "", "!!", "..."]))
        )
    first, second = rng.sample(NAMES, 2)
    for case in bases:
        body = sentence_body(case.text)
        names.append(Case(f"{first} said {body}", None, f"{second} said {body}"))
    return {
        "names": names,
        "places": places,
        "neutral_sentence": neutral,
        "typos": typos,
        "casing": casing,
        "punctuation": punctuation,
    }


def directional_cases(rng: random.Random) -> dict[str, list[Case]]:
    """Perturbations of positive sentences that must lower P(positive)."""
    add_not = [
        Case(
            fill("The {thing} was {word}.", thing=thing, word=word),
            None,
            fill("The {thing} was not {word}.", thing=thing, word=word),
        )
        for thing, word in product(THINGS, POSITIVE_WORDS)
    ]
    add_negative = [
        Case(
            case.text,
            None,
            case.text.rstrip(".") + ", " + rng.choice(NEGATIVE_CLAUSES) + ".",
        )
        for case in base_sentences()
        if case.expected == POSITIVE
    ]
    return {"add_not": add_not, "add_negative_clause": add_negative}


def build_suite(size: int = CASES_PER_CAPABILITY, seed: int = SEED) -> list[Capability]:
    """The whole suite, the same for the same ``size`` and ``seed``."""
    # not for security: a seeded generator makes the same suite every run
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    mft = [
        ("plain", "plain vocabulary: 'The plot was great.'",
         labelled(PLAIN_TEMPLATES, POSITIVE_WORDS, POSITIVE)
         + labelled(PLAIN_TEMPLATES, NEGATIVE_WORDS, NEGATIVE)),
        ("intensifiers", "intensified vocabulary: 'The plot was really great.'",
         labelled(INTENSIFIED_TEMPLATES, POSITIVE_WORDS, POSITIVE,
                  intensifier=INTENSIFIERS)
         + labelled(INTENSIFIED_TEMPLATES, NEGATIVE_WORDS, NEGATIVE,
                    intensifier=INTENSIFIERS)),
        ("negated_positive", "negated positive: 'The plot was not great.'",
         labelled(NEGATED_POSITIVE_TEMPLATES, POSITIVE_WORDS, NEGATIVE)),
        ("negated_negative", "negated negative: 'The plot was not bad at all.'",
         labelled(NEGATED_NEGATIVE_TEMPLATES, NEGATIVE_WORDS, POSITIVE)),
        ("contrast", "contrast: 'The plot was dull, but the cast was great.'",
         contrast_cases()),
    ]  # fmt: skip
    suite = [
        Capability(name, "mft", name, description, sample(cases, rng, size))
        for name, description, cases in mft
    ]
    for name, cases in invariance_cases(rng).items():
        suite.append(
            Capability(
                f"invariance_{name}",
                "inv",
                "invariance",
                f"label unchanged by {name.replace('_', ' ')}",
                sample(cases, rng, size),
            )
        )
    for name, cases in directional_cases(rng).items():
        suite.append(
            Capability(
                f"directional_{name}",
                "dir",
                "directional",
                f"P(positive) lower after {name.replace('_', ' ')}",
                sample(cases, rng, size),
            )
        )
    return suite
