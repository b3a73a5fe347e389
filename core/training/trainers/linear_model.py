"""A logistic-regression classifier kept as plain arrays (coefficients, intercepts, classes).

scikit-learn fits it; predicting is a matrix product and a softmax (or a sigmoid for two classes, as
scikit-learn does), so a saved model is an `.npz` file that loads without pickles and gives the same numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

Features = np.ndarray | sparse.spmatrix | sparse.sparray


@dataclass
class LinearClassifier:
    classes: list[str]
    coef: np.ndarray  # (classes, features), or (1, features) for two classes
    intercept: np.ndarray
    converged: bool = True

    @classmethod
    def fit(
        cls, features: Features, labels: list[str], classes: list[str], *, c: float, max_iter: int
    ) -> LinearClassifier:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        index = {label: i for i, label in enumerate(classes)}
        target = np.array([index[label] for label in labels])
        model = LogisticRegression(C=c, max_iter=max_iter)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(features, target)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if list(model.classes_) != list(range(len(classes))):
            raise ValueError("every class needs at least one training sample")
        return cls(
            classes=list(classes),
            coef=np.asarray(model.coef_, dtype=np.float64),
            intercept=np.asarray(model.intercept_, dtype=np.float64),
            converged=converged,
        )

    def predict_proba(self, features: Features) -> np.ndarray:
        scores = np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept
        if self.coef.shape[0] == 1:  # two classes: the score is the log-odds of the second
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        """The arrays only (the classes live in the trainer's trainer.json)."""
        with open(path, "wb") as handle:
            np.savez(handle, coef=self.coef, intercept=self.intercept)

    @classmethod
    def load(cls, path: Path, classes: list[str]) -> LinearClassifier:
        with np.load(path, allow_pickle=False) as data:
            return cls(classes=list(classes), coef=data["coef"], intercept=data["intercept"])

    def describe(self) -> dict[str, Any]:
        return {"features": int(self.coef.shape[1]), "converged": self.converged}
