"""The `not_a_message` quality flag (core/curation/bare_names.py) on the paper's data: how often it fires, and on what.

    .venv/bin/python bench/bench_not_a_message.py [DATA]

DATA is the paper-multilingual folder (default ../shared/data/paper-multilingual). Each task is one project with
its 8 languages; its samples are the human test and train texts and the synthetic train_full texts.
- synthetic: the flags as the check job gives them (people's samples of the language set the usual length);
- synthetic without people: the same synthetic texts in a project that has no human samples (the cell decides);
- human, as if synthetic: the rule run on people's own texts (never done by the studio: people's texts are what
  the model must learn), to see how often a real message would look like a category name.

Measured (the chosen rules: at most 4 words, no sentence punctuation, emoji or common word of the language, where
the usual sample has at least 8 words and 3 times the text's, and fewer than 0.2% of people's own samples of the
language read like that):
- intent: people's commands have a median of 5-7 words, so nothing is flagged (0 of 15,707 synthetic texts, 0 of
  80 label names planted as samples): commands as short as "set alarm" are messages there;
- topic: 2 of 10,986 synthetic texts, both left-overs of the LLM's answer ("token between each text)", "(Note:
  I've added the" in the Romanian file), the same without people's samples; people's 7,240 sentences as if
  synthetic: 0; label names planted in every language ("Science/Technology", "Travel"): 55 of 56 flagged;
- sentiment: 0 of 3,079 synthetic texts (1, "token between each text)", without people's samples). People's tweets
  and reviews as if synthetic: 632 of 64,322 (98 per 10,000: one-word reviews, "terbaik", "excelenta", "טיפש")
  without the people's-share rule, 8 (1.2 per 10,000) with it: people's own samples read like bare names in Thai
  1.99%, Hebrew 1.77%, Indonesian 1.38%, Swahili 0.77%, Romanian 0.47% (the rule is off there), English 0.08%,
  German 0.01%, Slovenian 0%; label names planted: 6 of 16 flagged (English, German, Slovenian).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.curation.bare_names import MessageContext, MessageRules, bare_name  # noqa: E402
from core.curation.duplicate_flags import Item  # noqa: E402

PAPER = ROOT.parent / "shared" / "data" / "paper-multilingual"
LANGUAGES = ["en", "de", "th", "he", "id", "sw", "ro", "sl"]
TASKS = ("intent", "topic", "sentiment")
FILES = {"test": "human", "train_human_parsed": "human", "train_full": "synthetic"}


def task_items(folder: Path, task: str) -> list[Item]:
    items: list[Item] = []
    for language in LANGUAGES:
        for part, origin in FILES.items():
            path = folder / task / f"{language}-{part}.csv"
            if not path.exists():  # sl-train_human_parsed is missing from the sentiment release
                continue
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    text = row["text"] or ""
                    if text.strip() and text.strip().lower() != "nan":
                        items.append(
                            Item(len(items), text, row["intent"] or None, language, "train", origin, "pending")
                        )
    return items


def flagged(items: list[Item], judge: list[Item], rules: MessageRules) -> list[Item]:
    context = MessageContext(items, rules)
    words = dict(zip((i.id for i in items), context.lengths, strict=True))
    return [item for item in judge if bare_name(item, words[item.id], context) is not None]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path, default=PAPER, help="the paper-multilingual folder")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"No paper data at {args.data}: nothing to measure")
        return 1
    rules = MessageRules()
    for task in TASKS:
        items = task_items(args.data, task)
        synthetic = [i for i in items if i.origin == "synthetic"]
        human = [i for i in items if i.origin == "human"]
        print(f"\n{task}: {len(human):,} human, {len(synthetic):,} synthetic texts")
        found = flagged(items, synthetic, rules)
        print(f"  synthetic: {len(found)} flagged ({1e4 * len(found) / len(synthetic):.1f} per 10,000)")
        for item in found:
            print(f"    {item.language} {item.label}: {item.text[:80]!r}")
        alone = flagged(synthetic, synthetic, rules)
        print(f"  synthetic without people's samples: {len(alone)} flagged")
        for item in alone:
            print(f"    {item.language} {item.label}: {item.text[:80]!r}")
        as_synthetic = [Item(i.id, i.text, i.label, i.language, i.split, "synthetic", i.status) for i in human]
        uncalibrated = MessageRules(people_share=1.1)  # people's own short texts do not switch the rule off
        for name, chosen in (("without", uncalibrated), ("with", rules)):
            found = flagged(items, as_synthetic, chosen)
            per_language: dict[str, int] = defaultdict(int)
            for item in found:
                per_language[item.language] += 1
            print(
                f"  human, as if synthetic, {name} the people's-share rule: {len(found)} flagged "
                f"({1e4 * len(found) / len(human):.1f} per 10,000) {dict(per_language)}"
            )
            for item in found[:: max(1, len(found) // 8)][:8]:
                print(f"    {item.language} {item.label}: {item.text[:80]!r}")
        names = sorted({i.label for i in items if i.label})
        planted = [
            Item(len(items) + k, name.replace("_", " ").title(), name, language, "train", "synthetic", "pending")
            for k, (language, name) in enumerate((language, name) for language in LANGUAGES for name in names)
        ]
        found = flagged([*items, *planted], planted, rules)
        caught = sorted({i.language for i in found})
        print(
            f"  the label names planted as synthetic samples in every language: {len(found)} of {len(planted)} {caught}"
        )
        context = MessageContext(items, rules)
        shares = {
            language: f"{context.people_share(usual, language):.2%}"
            for language in LANGUAGES
            if (usual := context.usual(Item(-1, "", None, language, "train", "synthetic", "pending"), 1)) is not None
            and usual.words >= rules.min_usual_words
        }
        print(f"  people's samples that read like bare names, per language: {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
