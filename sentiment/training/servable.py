"""Can a fitted model serve? The checks an import runs before anything is stored.

What the service needs of a model (:mod:`sentiment.lifecycle.loading`): a
classifier, fitted (``classes_``, two or more), that takes a list of strings and
gives one answer per text, has scores (``predict_proba`` or
``decision_function``, one column per class), pickles back (the store keeps it
with joblib), and was made by the scikit-learn installed here (a pickle from
another is not guaranteed to load or to answer the same). Each check that fails
raises :class:`~sentiment.errors.TrainingError` with one line naming why, so a
model that cannot serve is refused at import, never at a worker's start.
"""

from __future__ import annotations

# pickle only dumps here (can the store keep it?); the file is the user's own
import pickle  # nosec B403
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.errors import TrainingError
from sentiment.model.decision import scores_of

PROBE = [
    "a wonderful, moving film",
    "a dull, lifeless mess",
    "not bad at all, though slow",
]


def load_file(path: Path) -> Any:
    """Unpickle ``path``; refuse a file from another scikit-learn.

    Raises:
        TrainingError: missing, unreadable, or made by another scikit-learn.
    """
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    if not path.is_file():
        raise TrainingError(f"model file not found: {path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        try:
            model = joblib.load(path)  # nosec B301
        except Exception as exc:  # a bad pickle raises anything
            first = (str(exc).splitlines() or [""])[0][:200]
            raise TrainingError(
                f"cannot load {path.name}: {type(exc).__name__}: {first}"
            ) from None
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            made = warning.message.original_sklearn_version
            raise TrainingError(
                f"{path.name} was made with scikit-learn {made}, this project serves "
                f"with {version('scikit-learn')}: refit or re-save it with "
                f"scikit-learn {version('scikit-learn')}"
            )
    return model


def check_servable(model: Any) -> list[Any]:
    """Refuse a model the service cannot serve; its classes when it can.

    Raises:
        TrainingError: one line naming the first reason it cannot serve.
    """
    from sklearn.base import is_regressor

    name = type(model).__name__
    if is_regressor(model):
        raise TrainingError(
            f"{name} is a regressor: it predicts numbers, the service serves labels "
            "(import a classifier)"
        )
    if not callable(getattr(model, "predict", None)):
        raise TrainingError(f"{name} has no predict: not a classifier")
    try:
        classes = list(model.classes_)
    except AttributeError:
        raise TrainingError(
            f"{name} has no classes_: not a fitted classifier (fit it first)"
        ) from None
    if len(classes) < 2:
        raise TrainingError(f"{name} knows {len(classes)} class: it needs 2 or more")
    try:
        predicted = np.asarray(model.predict(PROBE))
    except Exception as exc:  # a model for numbers fails on text in many ways
        first = (str(exc).splitlines() or [""])[0][:120]
        raise TrainingError(
            f"{name} does not take a list of strings (predict on texts raised "
            f"{type(exc).__name__}: {first}): it expects numbers, not text; "
            "import a pipeline that starts with a vectorizer"
        ) from None
    if predicted.shape[:1] != (len(PROBE),):
        raise TrainingError(
            f"{name}.predict gave shape {predicted.shape} for {len(PROBE)} texts: "
            "one answer per text is needed"
        )
    if not set(predicted.tolist()) <= set(classes):
        raise TrainingError(f"{name}.predict answers labels outside its classes_")
    check_scores(model, name, len(classes))
    try:
        pickle.dumps(model)
    except Exception as exc:  # PicklingError, AttributeError, TypeError
        raise TrainingError(
            f"{name} does not pickle back ({type(exc).__name__}: a lambda or a "
            "local function inside it?): use a named, importable function"
        ) from None
    return classes


def check_scores(model: Any, name: str, n_classes: int) -> None:
    """Refuse a model with no usable scores for each class.

    Raises:
        TrainingError: neither predict_proba nor decision_function, or scores
            of the wrong shape.
    """
    try:
        scores = np.asarray(scores_of(model).predict_proba(PROBE))
    except TypeError as exc:
        raise TrainingError(f"{exc}: the service answers a score per label") from None
    except Exception as exc:  # a broken scorer of a foreign model
        raise TrainingError(
            f"{name} cannot score texts ({type(exc).__name__}: {exc})"[:300]
        ) from None
    if scores.shape != (len(PROBE), n_classes) or not np.isfinite(scores).all():
        raise TrainingError(
            f"{name}'s scores have shape {scores.shape}, not one finite score per "
            f"class ({n_classes}) and text"
        )
