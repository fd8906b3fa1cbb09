"""`import_model.py`: a model that cannot serve is refused in one line, unstored.

Models are fitted here on the tiny corpus (no trained artifact); the store is the
session's temporary ``BENTOML_HOME``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml
import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn.base
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

import import_model
from sentiment.model.decision import UNCALIBRATED, from_decisions, scores_of
from sentiment.model.linear_explain import LinearExplainer
from sentiment.training.importing import drift_reference

NAME = "unit-import"


def stored() -> list[str]:
    """Every model in the session's store."""
    return sorted(str(m.tag) for m in bentoml.models.list())


def fitted(reviews: pd.DataFrame, classifier: Any) -> Pipeline:
    return make_pipeline(TfidfVectorizer(), classifier).fit(
        list(reviews["text"]), reviews["label"]
    )


def no_classes(reviews: pd.DataFrame, path: Path) -> None:
    joblib.dump(make_pipeline(TfidfVectorizer(), LogisticRegression()), path)


def numbers(reviews: pd.DataFrame, path: Path) -> None:
    joblib.dump(LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]), path)


def a_lambda(reviews: pd.DataFrame, path: Path) -> None:
    model = make_pipeline(
        FunctionTransformer(lambda texts: [t.lower() for t in texts]),
        TfidfVectorizer(),
        LogisticRegression(),
    ).fit(list(reviews["text"]), reviews["label"])
    path.write_bytes(cloudpickle.dumps(model))  # what joblib itself cannot write


def a_regressor(reviews: pd.DataFrame, path: Path) -> None:
    labels = (reviews["label"] == "positive").astype(float)
    model = make_pipeline(TfidfVectorizer(), LinearRegression())
    joblib.dump(model.fit(list(reviews["text"]), labels), path)


def old_sklearn(reviews: pd.DataFrame, path: Path) -> None:
    model = fitted(reviews, LogisticRegression())
    with pytest.MonkeyPatch.context() as patch:  # pickled as another version would
        patch.setattr(sklearn.base, "__version__", "1.0.2")
        joblib.dump(model, path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (no_classes, "no classes_"),
        (numbers, "expects numbers, not text"),
        (a_lambda, "does not pickle back"),
        (a_regressor, "is a regressor"),
        (old_sklearn, "scikit-learn 1.0.2"),
    ],
)
def test_a_model_that_cannot_serve_is_refused_in_one_line(
    make: Callable[[pd.DataFrame, Path], None],
    reason: str,
    reviews: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "model.joblib"
    make(reviews, path)
    before = stored()
    assert import_model.main([str(path), "--model-name", NAME]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and reason in err, err
    assert err.startswith("import: refused model.joblib: ")
    assert stored() == before


def test_other_labels_without_labelled_data_are_refused(
    reviews: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = pd.concat(
        [reviews, reviews.assign(label="neutral", text=reviews["text"] + " x")]
    )
    joblib.dump(fitted(three, LogisticRegression()), tmp_path / "three.joblib")
    assert (
        import_model.main([str(tmp_path / "three.joblib"), "--model-name", NAME]) == 2
    )
    assert "give labelled data" in capsys.readouterr().err


def test_calibration_data_with_labels_the_model_lacks_is_refused_in_one_line(
    reviews: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    joblib.dump(fitted(reviews, LinearSVC()), tmp_path / "svc.joblib")
    reviews.assign(label=reviews["label"].str.title()).to_csv(
        tmp_path / "titled.csv", index=False
    )
    before = stored()
    argv = [str(tmp_path / "svc.joblib"), "--data", str(tmp_path / "titled.csv")]
    assert import_model.main([*argv, "--calibrate", "--model-name", NAME]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "titled.csv has labels ['Negative', 'Positive'] the model does not" in err
    assert stored() == before


def test_a_three_class_model_with_its_data_is_stored_with_its_labels(
    reviews: pd.DataFrame, tmp_path: Path
) -> None:
    three = pd.concat(
        [reviews, reviews.assign(label="neutral", text=reviews["text"] + " plot")]
    )
    joblib.dump(fitted(three, LinearSVC()), tmp_path / "three.joblib")
    three.to_csv(tmp_path / "three.csv", index=False)
    argv = [str(tmp_path / "three.joblib"), "--data", str(tmp_path / "three.csv")]
    assert import_model.main([*argv, "--model-name", NAME]) == 0
    info = bentoml.models.get(f"{NAME}:latest").info.metadata
    assert info["labels"] == ["negative", "neutral", "positive"]
    assert info["imported"]["scores"] == UNCALIBRATED
    assert "must not flip" not in info["imported"]["checks_run"]
    assert info["metrics"]["n_test"] == len(three)
    assert "reference" not in info  # make drift compares P(positive): the pair only


def test_the_sentiment_pair_gets_a_drift_reference(reviews: pd.DataFrame) -> None:
    model = fitted(reviews, LinearSVC())
    texts = list(reviews["text"])
    reference = drift_reference(model, ["negative", "positive"], texts)
    assert reference is not None and sum(reference.score_counts) == len(texts)
    positive = model.predict(texts) == "positive"
    assert reference.positive_share == pytest.approx(positive.mean(), abs=1e-4)
    assert drift_reference(model, ["bad", "good"], texts) is None


def test_decision_scores_order_the_classes_as_predict_does(
    reviews: pd.DataFrame,
) -> None:
    model = fitted(reviews, LinearSVC())
    texts = list(reviews["text"])
    scores = scores_of(model).predict_proba(texts)
    assert np.allclose(scores.sum(axis=1), 1)
    assert list(model.classes_[scores.argmax(axis=1)]) == list(model.predict(texts))
    softmax = from_decisions(np.array([[1.0, 2.0, 0.0]]))
    assert softmax.argmax() == 1 and np.isclose(softmax.sum(), 1)


@pytest.mark.parametrize("classifier", [LogisticRegression(C=100), LinearSVC()])
def test_linear_contributions_add_up_to_the_decision(
    classifier: Any, reviews: pd.DataFrame
) -> None:
    model = fitted(reviews, classifier)
    explainer, why = LinearExplainer.build(model, ["negative", "positive"])
    assert explainer is not None and why == ""
    text = "a wonderful film, boring plot"
    (answer,) = explainer.explain([text], 20, scores_of(model).predict_proba)
    (component,) = answer["components"]
    assert component["logit"] == pytest.approx(
        model.decision_function([text])[0], abs=1e-5
    )
    assert answer["label"] == model.predict([text])[0]
    assert set(answer["contributions"]) == {"negative", "positive"}


def test_a_model_without_coefficients_is_not_explained(reviews: pd.DataFrame) -> None:
    from sklearn.naive_bayes import MultinomialNB

    explainer, why = LinearExplainer.build(fitted(reviews, MultinomialNB()), ["n", "p"])
    assert explainer is None and "not linear (no coef_)" in why
