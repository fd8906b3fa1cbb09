"""Negation words: the one home of both patterns the model depends on.

:data:`NEGATION_CUES` starts a negation scope (:mod:`sentiment.features.scopes`):
what the featurizer of every stored model counts as "not". :data:`NEGATED` is
looser (any word ending in ``n't``/``nt``) and decides which training snippets
already hold a negation, so :mod:`sentiment.training.augment` neither negates
them again nor swaps their polar words. They stay two patterns on purpose:
training with the cue list instead changes 178 polarity-swapped and 159
counterfactual snippets of the shipped corpus (1,152 -> 1,330 and 895 -> 1,054),
and so the default model; stored models are unaffected either way.
"""

from __future__ import annotations

import re

NEGATION_CUES = (
    r"not|no|never|cannot|nothing|nobody|none|neither|nor|without|hardly|barely|"
    r"\w+n['’]t|dont|doesnt|didnt|isnt|wasnt|arent|werent|hasnt|havent|hadnt|"
    r"couldnt|wouldnt|shouldnt|cant|wont|aint"
)
NEGATED = re.compile(
    r"\b(not|no|never|nothing|none|nobody|neither|nor|without|cannot|hardly)\b|n['’]?t\b",
    re.IGNORECASE,
)
