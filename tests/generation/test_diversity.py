"""Taboo words on subword tokens (regex, WordPiece, SentencePiece; Thai) and typical / outlier earlier outputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.generation.diversity import content_units, outlier_outputs, taboo_words, typical_outputs

SWAHILI = [
    "Mvua itanyesha kesho Nakuru?",
    "Je, mvua itanyesha kesho asubuhi?",
    "Mvua kubwa inakuja wiki hii?",
    "Leo jua kali sana, mvua lini?",
    "Kesho kutakuwa na baridi?",
]
THAI = [
    "ฝนจะตกพรุ่งนี้ไหม",
    "พรุ่งนี้ฝนจะตกหนักไหม",
    "ฝนตกที่เชียงใหม่ไหม",
    "วันนี้อากาศร้อนมาก",
    "พรุ่งนี้อากาศหนาวไหม",
]
THAI_WORDS = ["พรุ่งนี้", "เชียงใหม่", "อากาศ", "ฝน", "จะ", "ตก", "หนัก", "ไหม", "ที่", "วันนี้", "ร้อน", "มาก", "หนาว"]


def regex_tokenize(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def sentencepiece_like(text: str) -> list[str]:
    """What XLM-R's SentencePiece (the bundled e5's) does to unspaced Thai: '▁' only where a space was."""
    tokens: list[str] = []
    for chunk in text.split():
        first = True
        while chunk:
            word = next((w for w in sorted(THAI_WORDS, key=len, reverse=True) if chunk.startswith(w)), chunk[0])
            tokens.append(("▁" if first else "") + word)
            chunk = chunk[len(word) :]
            first = False
    return tokens


def test_most_frequent_content_words_with_a_regex_tokenizer() -> None:
    assert taboo_words(SWAHILI, regex_tokenize, k=3) == ["mvua", "kesho", "itanyesha"]


def test_punctuation_digits_one_letter_and_stopwords_are_skipped() -> None:
    texts = ["Bei ni 200 , a ?", "Bei ni 300 , a ?", "Bei ni 2kg a ?"]
    assert taboo_words(texts, regex_tokenize, k=5) == ["bei", "ni"]
    assert taboo_words(texts, regex_tokenize, k=5, stopwords={"NI"}) == ["bei"]


def test_a_word_must_be_used_in_at_least_two_texts() -> None:
    assert taboo_words(["mvua mvua mvua", "jua kali"], regex_tokenize, k=5) == []
    assert taboo_words(["mvua kubwa"], regex_tokenize, k=5) == ["kubwa", "mvua"]


def test_background_removes_the_languages_function_words() -> None:
    background = ["Bei ya mahindi ni ngapi?", "Mvua ni lini?", "Majani ni ya njano", "Soko ni wapi?"]
    texts = ["Mvua ni kubwa", "Mvua ni ndogo", "Mvua itanyesha ni kweli"]
    assert taboo_words(texts, regex_tokenize, k=2) == ["mvua", "ni"]
    assert taboo_words(texts, regex_tokenize, k=2, background=background) == ["mvua"]


def test_wordpiece_pieces_are_merged_back_into_words() -> None:
    pieces = {
        "Mvua itanyesha kesho": ["mv", "##ua", "ita", "##nye", "##sha", "kes", "##ho"],
        "Mvua kubwa kesho": ["mv", "##ua", "ku", "##bwa", "kes", "##ho"],
    }
    assert taboo_words(list(pieces), lambda t: pieces[t], k=3) == ["kesho", "mvua"]


def test_sentencepiece_pieces_are_merged_in_spaced_scripts() -> None:
    pieces = {"a": ["▁Mv", "ua", "▁ita", "nyesha", "?"], "b": ["▁mv", "ua", "▁kubwa", "!", "▁", "mvua"]}
    assert content_units("a", lambda t: pieces[t]) == ["mvua", "itanyesha"]
    assert content_units("b", lambda t: pieces[t]) == ["mvua", "kubwa", "mvua"]


def test_thai_counts_subwords_not_whole_sentences() -> None:
    words = taboo_words(THAI, sentencepiece_like, k=4)
    assert words[0] == "ไหม"  # in 4 of 5 texts; then three words in 3 texts each (ties: alphabetical)
    assert set(words) == {"ไหม", "พรุ่งนี้", "ฝน", "ตก"}
    assert not any(word in THAI for word in words)  # a whitespace split would have given whole sentences


def test_with_a_real_wordpiece_tokenizer(tiny_encoder) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    tokenize = AutoTokenizer.from_pretrained(tiny_encoder).tokenize
    texts = ["The maize price fell again", "Maize price today?", "Is the price of maize high?", "My cassava leaves"]
    assert any(token.startswith("##") for text in texts for token in tokenize(text))  # really subword pieces
    assert taboo_words(texts, tokenize, k=2) == ["maize", "price"]
    thai = taboo_words(["ฝนจะตกพรุ่งนี้ไหม"] * 3 + ["ฝนตกไหม"], tokenize, k=5)
    assert thai and all(re.fullmatch(r"[\u0e00-\u0e7f]{2,}", word) for word in thai)
    assert all(len(word) < len("ฝนจะตกพรุ่งนี้ไหม") for word in thai)


def test_with_a_real_sentencepiece_tokenizer_on_thai() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    corpus = THAI * 20 + ["ฝนตกหนักมาก", "อากาศดีมาก", "พรุ่งนี้ไปตลาด"] * 10
    tokenizer.train_from_iterator(
        corpus, trainers.UnigramTrainer(vocab_size=60, special_tokens=["<unk>"], unk_token="<unk>")
    )

    def tokenize(text: str) -> list[str]:
        return tokenizer.encode(text, add_special_tokens=False).tokens

    assert any(token.startswith("▁") for token in tokenize(THAI[0]))
    words = taboo_words(THAI, tokenize, k=5)
    assert words and not any(word in THAI for word in words)
    assert all(re.fullmatch(r"[\u0e00-\u0e7f]{2,}", word) for word in words)


def test_nothing_to_count() -> None:
    assert taboo_words([], regex_tokenize) == []
    assert taboo_words(SWAHILI, regex_tokenize, k=0) == []
    assert taboo_words(["!!! ???", "123 456"], regex_tokenize) == []


# --- typical and outlier outputs ---------------------------------------------------------------------------------


def _vectors() -> tuple[list[str], np.ndarray]:
    texts = ["a: rain tomorrow?", "b: rain tomorrow??", "c: will it rain", "d: rain today", "e: locust swarm"]
    vectors = np.array(
        [[1.0, 0.05, 0.0], [1.0, 0.05, 0.0], [0.8, 0.5, 0.0], [0.9, -0.25, 0.1], [0.0, 0.2, 1.0]], dtype=np.float32
    )
    return texts, vectors * np.array([[3.0], [1.0], [2.0], [1.0], [5.0]], dtype=np.float32)  # not normalised


def test_typical_outputs_are_closest_to_the_centroid_without_near_duplicates() -> None:
    texts, vectors = _vectors()
    typical = typical_outputs(texts, vectors, k=3)
    assert typical[0] in ("a: rain tomorrow?", "b: rain tomorrow??")
    assert not {"a: rain tomorrow?", "b: rain tomorrow??"} <= set(typical)  # one of two identical vectors
    assert typical[1:] == ["d: rain today", "c: will it rain"]  # the outlier is not typical


def test_outlier_outputs_are_farthest_from_the_centroid() -> None:
    texts, vectors = _vectors()
    assert outlier_outputs(texts, vectors, k=1) == ["e: locust swarm"]


def test_hints_edge_cases() -> None:
    assert typical_outputs([], np.zeros((0, 3)), k=3) == []
    assert typical_outputs(["same", "Same "], np.ones((2, 3)), k=3) == ["same"]
    with pytest.raises(ValueError, match="one vector per text"):
        typical_outputs(["a", "b"], np.ones((3, 4)), k=1)
