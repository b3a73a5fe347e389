"""Character n-gram TF-IDF features, saved as a term list and IDF weights (no pickles)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

TERMS_FILE = "char_terms.json"
IDF_FILE = "char_idf.npy"


def _vectorizer(ngram_range: tuple[int, int], **extra: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # char_wb: n-grams inside word boundaries (padded with a space), lower-cased; sublinear tf dampens repeats
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngram_range, lowercase=True, sublinear_tf=True, dtype=np.float32, **extra
    )


@dataclass
class CharNgrams:
    ngram_range: tuple[int, int]
    terms: list[str]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: list[str], ngram_range: tuple[int, int], *, max_features: int, min_df: int) -> CharNgrams:
        min_df = min(min_df, max(1, len(texts)))  # a tiny snapshot must still get a vocabulary
        vectorizer = _vectorizer(ngram_range, max_features=max_features, min_df=min_df)
        vectorizer.fit(texts)
        terms = [""] * len(vectorizer.vocabulary_)
        for term, index in vectorizer.vocabulary_.items():
            terms[index] = term
        return cls(ngram_range=ngram_range, terms=terms, idf=np.asarray(vectorizer.idf_, dtype=np.float64))

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        vectorizer = _vectorizer(self.ngram_range, vocabulary={t: i for i, t in enumerate(self.terms)})
        vectorizer.idf_ = self.idf
        return sparse.csr_matrix(vectorizer.transform(texts))

    def save(self, folder: Path) -> None:
        content = {"ngram_range": list(self.ngram_range), "terms": self.terms}
        (folder / TERMS_FILE).write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        np.save(folder / IDF_FILE, self.idf, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> CharNgrams:
        content = json.loads((folder / TERMS_FILE).read_text(encoding="utf-8"))
        idf = np.load(folder / IDF_FILE, allow_pickle=False)
        return cls(ngram_range=tuple(content["ngram_range"]), terms=list(content["terms"]), idf=idf)
