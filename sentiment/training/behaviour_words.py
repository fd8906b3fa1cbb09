"""The behaviour suite's vocabulary: things, polar words, names, templates.

Data only, read by :mod:`sentiment.training.behaviour`; changing a list changes
every suite generated from it (and the pass rates ``bench/results/selection.md``
records), so each list is pinned by the suite's seed and size.
"""

THINGS = [
    "movie", "film", "plot", "acting", "story", "script", "cast", "ending",
    "dialogue", "soundtrack", "direction", "performance", "screenplay", "premise",
    "cinematography", "sequel",
]  # fmt: skip
POSITIVE_WORDS = [
    "good", "great", "excellent", "wonderful", "amazing", "fantastic", "brilliant",
    "superb", "enjoyable", "delightful", "terrific", "beautiful", "moving",
    "charming", "funny", "entertaining", "impressive", "outstanding", "lovely",
    "clever", "gripping", "touching", "stunning", "fun", "engaging", "smart",
]  # fmt: skip
NEGATIVE_WORDS = [
    "bad", "terrible", "awful", "boring", "dull", "horrible", "poor", "weak",
    "disappointing", "tedious", "stupid", "mediocre", "dreadful", "lame",
    "pointless", "bland", "painful", "messy", "forgettable", "annoying",
    "predictable", "clumsy", "tiresome", "ridiculous", "silly", "ugly",
]  # fmt: skip
INTENSIFIERS = [
    "very", "really", "truly", "extremely", "incredibly", "absolutely", "so",
    "remarkably", "utterly", "genuinely",
]  # fmt: skip
NAMES = [
    "John", "Maria", "Ahmed", "Mei", "Olga", "Kwame", "Priya", "Lucas", "Sofia",
    "Hiroshi", "Fatima", "Diego", "Emma", "Noah", "Aisha", "Pierre",
]  # fmt: skip
PLACES = [
    "Paris", "Lagos", "Chicago", "Mumbai", "Berlin", "Lima", "Toronto", "Cairo",
    "Sydney", "Seoul", "Madrid", "Nairobi", "Boston", "Oslo",
]  # fmt: skip
NEUTRAL_SENTENCES = [
    "I saw it on a Tuesday.", "It runs about two hours.", "My brother came too.",
    "It opened last week.", "I watched it at home.", "The theater was full.",
    "It is based on a novel.", "We went after dinner.", "It was released in May.",
    "I bought the ticket online.",
]  # fmt: skip

PLAIN_TEMPLATES = [
    "The {thing} was {word}.",
    "This {thing} is {word}.",
    "What {a_word} {thing}.",
    "I found the {thing} {word}.",
    "It was {a_word} {thing}.",
    "The {thing} is {word}.",
]
INTENSIFIED_TEMPLATES = [
    "The {thing} was {intensifier} {word}.",
    "This {thing} is {intensifier} {word}.",
    "I found the {thing} {intensifier} {word}.",
]
NEGATED_POSITIVE_TEMPLATES = [
    "The {thing} was not {word}.",
    "The {thing} wasn't {word}.",
    "This {thing} is not {word}.",
    "I didn't find the {thing} {word}.",
    "It was not {a_word} {thing}.",
    "The {thing} was never {word}.",
    "I don't think the {thing} was {word}.",
]
NEGATED_NEGATIVE_TEMPLATES = [
    "The {thing} was not {word} at all.",
    "The {thing} wasn't {word} at all.",
    "This {thing} is not {word} at all.",
    "I didn't find the {thing} {word} at all.",
    "It was not {a_word} {thing} at all.",
    "The {thing} was never {word} at all.",
]
CONTRAST_TEMPLATES = [
    "The {thing} was {first}, but the {other} was {second}.",
    "The {thing} was {first} but the {other} was {second}.",
    "Although the {thing} was {first}, the {other} was {second}.",
    "The {other} was {second}, though the {thing} was {first}.",
    "The {other} was {second}, although the {thing} was {first}.",
    "I thought the {thing} was {first}, but the {other} was {second}.",
]
NEGATIVE_CLAUSES = [
    "but the ending was awful",
    "but the acting was terrible",
    "but it was boring",
    "but the script was dreadful",
    "but I hated it",
]
