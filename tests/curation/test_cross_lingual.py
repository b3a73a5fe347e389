"""Cross-lingual test contamination (issue 21): a synthetic train sample that translates a test sample of another
language is found, with the bundled multilingual encoder; the other samples of the same topics are not. The
false-alarm rate on the paper's data is in bench/bench_cross_lingual.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.curation.cross_lingual import find_translations

GERMAN_TESTS = [
    "Der Bürgermeister kündigte an, dass die neue Brücke über den Fluss im nächsten Frühjahr eröffnet wird.",
    "Die Nationalmannschaft gewann das Halbfinale nach einem dramatischen Elfmeterschießen.",
    "Wer im Winter nach Norwegen reist, sollte warme Kleidung und gute Stiefel einpacken.",
    "Regelmäßige Bewegung senkt das Risiko von Herz-Kreislauf-Erkrankungen deutlich.",
    "Forscher haben einen Impfstoff entwickelt, der gegen mehrere Grippestämme gleichzeitig wirkt.",
    "Das Konzert der Band war innerhalb von zehn Minuten ausverkauft.",
    "Die Regierung plant, die Steuern für kleine Unternehmen im kommenden Jahr zu senken.",
    "Viele Touristen besuchen die Altstadt wegen ihrer mittelalterlichen Kirchen.",
    "Der Läufer stellte beim Marathon in Berlin einen neuen Weltrekord auf.",
    "Das Teleskop hat Bilder einer fernen Galaxie mit bisher unbekannter Schärfe aufgenommen.",
]
FRENCH_TESTS = [
    "Le gouvernement a annoncé un plan pour rénover les écoles publiques.",
    "L'équipe locale a remporté le championnat pour la troisième fois.",
    "Les vols vers les îles sont souvent annulés à cause du vent.",
    "Une alimentation riche en fibres protège contre certaines maladies.",
    "Le chanteur a sorti son premier album après dix ans de carrière.",
    "Les chercheurs ont observé la fonte rapide des glaciers dans les Alpes.",
]
ENGLISH_SYNTHETIC = [
    "A new study shows that drinking water before meals can help people eat less.",
    "The football club signed a young striker from Brazil for a record fee.",
    "Backpackers often choose hostels to save money while travelling through Europe.",
    "Researchers have developed a vaccine that works against several flu strains at the same time.",  # German #4
    "The senate rejected the proposal to raise the minimum wage.",
    "Scientists discovered a new species of frog in the rainforest of Peru.",
    "The film festival opened with a comedy about a family reunion.",
    "Doctors recommend at least seven hours of sleep every night.",
    "The tennis player withdrew from the tournament because of a knee injury.",
    "The museum offers free entry on the first Sunday of every month.",
    "Engineers tested a battery that charges an electric car in ten minutes.",
    "The prime minister met trade union leaders to discuss pensions.",
]
GERMAN_SYNTHETIC = [  # same language as the German tests: the same-language check's business, never this one's
    "Forscher haben einen Impfstoff entwickelt, der gegen mehrere Grippestämme zugleich wirkt.",
    "Im Sommer ist der Strand an der Ostsee oft überfüllt.",
    "Die Zentralbank hat den Leitzins erneut angehoben.",
    "Ein gesundes Frühstück gibt Energie für den ganzen Vormittag.",
]


@pytest.mark.slow
def test_a_planted_translation_of_a_test_sample_is_found_and_nothing_else(e5_folder: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_folder), device="cpu")

    def vectors(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode([f"passage: {t}" for t in texts], normalize_embeddings=True))

    tests = GERMAN_TESTS + FRENCH_TESTS
    test_languages = ["de"] * len(GERMAN_TESTS) + ["fr"] * len(FRENCH_TESTS)
    candidates = ENGLISH_SYNTHETIC + GERMAN_SYNTHETIC
    candidate_languages = ["en"] * len(ENGLISH_SYNTHETIC) + ["de"] * len(GERMAN_SYNTHETIC)
    test_vectors, candidate_vectors = vectors(tests), vectors(candidates)

    [match] = find_translations(candidate_vectors, candidate_languages, test_vectors, test_languages)

    assert (match.candidate, match.test) == (3, 4)
    assert match.margin >= 1.1 and match.similarity > 0.85  # well above the default margin (1.08)
    # a plain cosine threshold low enough to catch it would flood: unrelated texts of the same topics score close
    unrelated = candidate_vectors[: len(ENGLISH_SYNTHETIC)] @ test_vectors.T
    unrelated[3, 4] = -1
    assert (unrelated >= match.similarity - 0.1).sum() > 0


def e5_like(rows: int, rng: np.random.Generator) -> np.ndarray:
    """Normalised vectors that share a large common direction, as e5's do (unrelated texts at 0.7-0.85)."""
    common = np.ones(32) / np.sqrt(32)
    noise = rng.normal(size=(rows, 32)) / np.sqrt(32)
    vectors = 2.0 * common + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_only_mutual_nearest_neighbours_that_stand_out_are_translations() -> None:
    rng = np.random.default_rng(0)
    tests, candidates = e5_like(20, rng), e5_like(20, rng)
    candidates[7] = tests[11] + 0.03 * candidates[7]  # a close copy of test 11, in another language
    candidates[7] /= np.linalg.norm(candidates[7])
    found = find_translations(candidates, ["en"] * 20, tests, ["de"] * 20)
    assert [(m.candidate, m.test) for m in found] == [(7, 11)]
    assert find_translations(candidates, ["de"] * 20, tests, ["de"] * 20) == []  # same language: not this check
    twin = candidates.copy()
    twin[8] = candidates[7]  # two candidates as close: the test's nearest neighbour is one of them, not both
    assert len(find_translations(twin, ["en"] * 20, tests, ["de"] * 20)) == 1


def test_a_faint_neighbour_among_noise_is_no_translation() -> None:
    rng = np.random.default_rng(1)
    spread = rng.normal(size=(40, 64))  # an encoder that puts unrelated texts near 0: the best is faint, yet alone
    vectors = spread / np.linalg.norm(spread, axis=1, keepdims=True)
    assert find_translations(vectors[:20], ["en"] * 20, vectors[20:], ["de"] * 20) == []
