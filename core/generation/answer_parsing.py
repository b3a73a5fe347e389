"""Turning an LLM's raw answer into sample texts (a revise pass's answer into verdicts: `revise_parsing`).

`parse_samples` copes with what models really send: a JSON array (bare, fenced, inside an object, of objects), a
Python list, numbered or bulleted lists, plain lines, quotes of many scripts, preambles and sign-offs, a last item
cut off by the token limit, notes and translations under items. Every line it does not keep is returned with a
short reason (see DROP_REASONS); the raw answer itself is never changed. It never raises: garbage yields few or no
samples, each with its reason.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

logger = logging.getLogger(__name__)

REASON_PREAMBLE = "preamble"
REASON_TRUNCATED = "truncated"
REASON_TOO_SHORT = "too short"
REASON_TOO_LONG = "too long"
REASON_REPEATED = "repeated in this answer"
REASON_NOT_TEXT = "not text"
REASON_UNREADABLE = "unreadable characters"
REASON_NOTE = "note or translation"
REASON_REASONING = "the model's reasoning"

DROP_REASONS: dict[str, str] = {
    REASON_PREAMBLE: "the model's own words around the samples (an introduction, a heading or a sign-off)",
    REASON_TRUNCATED: "the answer was cut off in the middle of this sample",
    REASON_TOO_SHORT: "shorter than the minimum length",
    REASON_TOO_LONG: "longer than the maximum length",
    REASON_REPEATED: "the same text came earlier in this answer",
    REASON_NOT_TEXT: "no words: only numbers, punctuation, or a value that is not text",
    REASON_UNREADABLE: "control characters or broken characters",
    REASON_NOTE: "a note or translation the model added under a sample",
    REASON_REASONING: "the model's thinking before its answer",
}

MAX_DROPPED_CHARS = 500  # dropped lines are shown for inspection; the raw answer holds them in full
TEXT_KEYS = ("text", "sentence", "example", "sample", "content", "utterance", "query", "message", "output", "value")
METADATA_KEYS = frozenset({"label", "labels", "category", "class", "intent", "topic", "language", "lang", "id", "type"})
LIST_KEYS = ("samples", "examples", "texts", "sentences", "data", "items", "outputs", "results", "messages")


@dataclass(frozen=True)
class DroppedLine:
    text: str
    reason: str


@dataclass(frozen=True)
class ParsedAnswer:
    samples: list[str]
    dropped: list[DroppedLine]
    format: str  # json, json-object, json-cut-off, python-list, numbered, bulleted, lines, empty


@dataclass
class _Candidate:
    text: str
    original: str
    cut: bool = False  # known to be cut off


# --- entry point -------------------------------------------------------------------------------------------------


def parse_samples(
    raw: str,
    *,
    n_expected: int | None = None,
    min_chars: int = 3,
    max_chars: int = 1000,
    truncated: bool = False,
) -> ParsedAnswer:
    """The samples in one answer. `truncated`: the backend says the answer hit its token limit (finish_reason
    "length"), so the last item is incomplete even if it looks whole (unless the JSON closed properly).
    `n_expected` helps to spot a preamble in a language the rules do not know ("Hapa kuna mifano 10...")."""
    try:
        return _parse(raw, n_expected, min_chars, max_chars, truncated)
    except Exception as exc:  # a parser bug must not lose the answer: report it as one dropped line
        logger.warning("an answer could not be parsed into samples (a parser bug)", exc_info=True)
        return ParsedAnswer([], [DroppedLine(_short(raw), f"{REASON_NOT_TEXT} (could not be read: {exc})")], "empty")


def _parse(raw: str, n_expected: int | None, min_chars: int, max_chars: int, truncated: bool) -> ParsedAnswer:
    dropped: list[DroppedLine] = []
    text = _strip_reasoning(str(raw or ""), dropped).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ParsedAnswer([], dropped, "empty")
    found = _from_json(text, truncated)
    if found is None:
        candidates, outside, fmt = _from_lines(text, truncated, n_expected)
    else:
        candidates, outside, fmt = found
    dropped += outside
    samples = _keep(candidates, dropped, min_chars, max_chars)
    return ParsedAnswer(samples, dropped, fmt)


def _keep(candidates: list[_Candidate], dropped: list[DroppedLine], min_chars: int, max_chars: int) -> list[str]:
    samples: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.cut:
            dropped.append(DroppedLine(_short(candidate.original), REASON_TRUNCATED))
            continue
        text = clean_text(candidate.text)
        reason = _rejection(text, min_chars, max_chars)
        key = _dedup_key(text)
        if reason is None and key in seen:
            reason = REASON_REPEATED
        if reason is not None:
            dropped.append(DroppedLine(_short(candidate.original), reason))
            continue
        seen.add(key)
        samples.append(text)
    return samples


def _rejection(text: str, min_chars: int, max_chars: int) -> str | None:
    if any(_is_control(ch) for ch in text) or "\ufffd" in text:
        return REASON_UNREADABLE
    if not any(unicodedata.category(ch)[0] in "LM" for ch in text):
        return REASON_NOT_TEXT
    if len(text) < min_chars:
        return REASON_TOO_SHORT
    if len(text) > max_chars:
        return REASON_TOO_LONG
    return None


def _is_control(ch: str) -> bool:
    return ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs", "Co")


def _dedup_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .!?。！？,;:\"'“”«»")


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_DROPPED_CHARS else text[: MAX_DROPPED_CHARS - 1] + "…"


def _strip_reasoning(text: str, dropped: list[DroppedLine]) -> str:
    """Reasoning models (DeepSeek-R1, Qwen3...) may put <think>...</think> before the answer."""
    match = re.search(r"<think>(.*?)(</think>|$)", text, flags=re.S | re.I)
    if not match:
        return text
    if match.group(1).strip():
        dropped.append(DroppedLine(_short(match.group(1)), REASON_REASONING))
    return text[: match.start()] + text[match.end() :]


# --- cleaning one text -------------------------------------------------------------------------------------------

QUOTE_PAIRS = {
    '"': ('"',),
    "'": ("'",),
    "“": ("”", "“"),
    "”": ("”",),
    "‘": ("’",),
    "«": ("»",),
    "»": ("«",),
    "„": ("“", "”"),
    "‚": ("‘", "’"),
    "「": ("」",),
    "『": ("』",),
    "‹": ("›",),
    "＂": ("＂",),
    "`": ("`",),
}
_EMPHASIS = re.compile(r"^(\*\*|__|\*|_)(?P<body>.+?)\1$", re.S)
_LABEL_PREFIX = re.compile(
    r"^(?:label|category|class|intent|topic)\s*[:=]\s*[^\n—–|:]{1,60}?\s*(?:—|–|-|\||:)\s+", re.I
)
_TEXT_PREFIX = re.compile(
    r"^(?:text|sentence|example|sample|input|query|utterance|message|sms|question|tweet|review|output)"
    r"\s*(?:#?\s*\d{1,4})?\s*[:：]\s*",
    re.I,
)
_QUOTED_THEN_NOTE = re.compile(r'^(["“«„「])(?P<body>[^"”»“」]+)(["”»“」])\s*(?:\(.*\)|\[.*\]|[-–—]\s+.*)$', re.S)


def clean_text(text: str) -> str:
    """One candidate's text without markers around it: emphasis, 'Text:' or 'Label: x —' prefixes, quotes."""
    text = text.strip()
    for _ in range(3):
        before = text
        text = text.removesuffix(",").strip() if re.search(r"[\"”»」']\s*,$", text) else text
        match = _EMPHASIS.match(text)
        if match and "**" not in match.group("body"):
            text = match.group("body").strip()
        text = _TEXT_PREFIX.sub("", _LABEL_PREFIX.sub("", text), count=1).strip()
        note = _QUOTED_THEN_NOTE.match(text)
        if note:
            text = note.group("body").strip()
        text = _strip_quotes(text)
        if text == before:
            break
    return text


def _strip_quotes(text: str) -> str:
    if len(text) < 2:
        return text
    closers = QUOTE_PAIRS.get(text[0])
    if not closers or text[-1] not in closers:
        return text
    inner = text[1:-1]
    if text[0] in inner or text[-1] in inner:  # '"a" and "b"': the quotes are part of the text
        return text
    return inner.strip()


# --- JSON --------------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_JSON_START = re.compile(r"^[ \t]*[\[{]", re.M)
_JSON_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_TRAILING_COMMA = re.compile(r",\s*([\]}])")


def _from_json(text: str, truncated: bool) -> tuple[list[_Candidate], list[DroppedLine], str] | None:
    segment, before, after = json_segment(text)
    if segment is None or not _only_preamble(before):
        return None
    value, rest = load_json_like(segment)
    if isinstance(value, dict | str) and rest.lstrip().startswith(("{", '"')):
        return None  # JSON Lines: one object (or string) per line, read line by line
    if value is not None:
        items_format = _items(value)
        if items_format is None:
            return None
        items, fmt = items_format
        candidates, not_text = _candidates_from_items(items)
        if not candidates:
            return None
        return candidates, _preamble_lines(before + "\n" + rest + "\n" + after) + not_text, fmt
    if segment.startswith("["):
        scanned = _scan_broken_array(segment)
        if scanned is not None:
            return scanned[0], _preamble_lines(before + "\n" + after) + scanned[1], "json-cut-off"
    return None


def json_segment(text: str) -> tuple[str | None, str, str]:
    """(the part that should be JSON, the text before it, the text after a closing fence)."""
    for fence in _FENCE.finditer(text):
        body = fence.group(2).strip()
        if body.startswith(("[", "{")):
            return body, text[: fence.start()], text[fence.end() :]
    start = _JSON_START.search(text)
    if start is None:
        return None, text, ""
    return text[start.start() :].strip(), text[: start.start()], ""


def _only_preamble(before: str) -> bool:
    """JSON counts only when what comes before it is a short introduction, not a list with brackets in it."""
    lines = [_classify(line) for line in before.split("\n")]
    content = [line for line in lines if line.kind not in ("blank", "structural")]
    return len(content) <= 3 and not any(line.kind in ("numbered", "bulleted") for line in content)


def _preamble_lines(text: str) -> list[DroppedLine]:
    return [
        DroppedLine(_short(line), REASON_PREAMBLE)
        for line in text.split("\n")
        if line.strip() and not _STRUCTURAL.match(line.strip()) and not line.strip().startswith("```")
    ]


def load_json_like(segment: str) -> tuple[Any, str]:
    """(value, what follows it) or (None, '')."""
    for attempt in (segment, _TRAILING_COMMA.sub(r"\1", segment)):
        try:
            value, end = json.JSONDecoder().raw_decode(attempt)
            return value, attempt[end:]
        except (ValueError, RecursionError):
            continue
    if segment.startswith("[") and len(segment) < 200_000:
        closing = segment.rfind("]")
        try:
            value = ast.literal_eval(segment[: closing + 1]) if closing > 0 else None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if isinstance(value, list):
            return value, segment[closing + 1 :]
    return None, ""


def _items(value: Any) -> tuple[list[Any], str] | None:
    if isinstance(value, list):
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, list) else [item])
        return flat, "json"
    if isinstance(value, str):
        return [value], "json"
    if not isinstance(value, dict) or not value:
        return None
    lowered = {str(k).casefold(): v for k, v in value.items()}
    for key in LIST_KEYS:
        if isinstance(lowered.get(key), list):
            return lowered[key], "json-object"
    lists = [v for v in value.values() if isinstance(v, list)]
    if lists:
        return max(lists, key=len), "json-object"
    for nested in value.values():
        if isinstance(nested, dict) and (found := _items(nested)) is not None and found[0] != [nested]:
            return found[0], "json-object"
    if _text_of(value) is not None:
        return [value], "json-object"
    if all(isinstance(v, str) for v in value.values()):  # {"1": "...", "2": "..."}
        return list(value.values()), "json-object"
    return None


def _text_of(item: dict[Any, Any]) -> str | None:
    lowered = {str(k).casefold(): v for k, v in item.items()}
    for key in TEXT_KEYS:
        if isinstance(lowered.get(key), str):
            return lowered[key]
    strings = [v for k, v in lowered.items() if isinstance(v, str) and k not in METADATA_KEYS]
    return strings[0] if len(strings) == 1 else None


def _candidates_from_items(items: list[Any]) -> tuple[list[_Candidate], list[DroppedLine]]:
    candidates: list[_Candidate] = []
    dropped: list[DroppedLine] = []
    for item in items:
        text = item if isinstance(item, str) else _text_of(item) if isinstance(item, dict) else None
        if text is None:
            dropped.append(DroppedLine(_short(json.dumps(item, ensure_ascii=False, default=str)), REASON_NOT_TEXT))
        else:
            candidates.append(_Candidate(text, text))
    return candidates, dropped


def _scan_broken_array(segment: str) -> tuple[list[_Candidate], list[DroppedLine]] | None:
    """A JSON array that does not parse, usually because the answer was cut off: take its complete strings."""
    objects = "{" in segment
    pattern = (
        re.compile(r'"(?:' + "|".join(TEXT_KEYS) + r')"\s*:\s*"((?:[^"\\\n]|\\.)*)"', re.I) if objects else _JSON_STRING
    )
    candidates: list[_Candidate] = []
    end = 0
    for match in pattern.finditer(segment):
        candidates.append(_Candidate(_unescape(match.group(1)), match.group(0)))
        end = match.end()
    tail = segment[end:].strip().lstrip(",").strip()
    dropped: list[DroppedLine] = []
    if tail and tail not in ("]", "}]", "}", "]}") and '"' in tail:
        candidates.append(_Candidate(tail, tail, cut=True))
    elif tail and tail.rstrip("]} \n") and not tail.startswith("]"):
        dropped.append(DroppedLine(_short(tail), REASON_NOT_TEXT))
    if not candidates:
        return None
    return candidates, dropped  # a last string that closed its quote is complete, even if the array is not


def _unescape(body: str) -> str:
    try:
        return json.loads(f'"{body}"')
    except ValueError:
        return body


# --- lists and lines ---------------------------------------------------------------------------------------------

_NUMBERED = re.compile(
    r"^[ \t]*(?:\*\*|__)?[ \t]*(?:\(\s*\d{1,4}\s*\)|#?\d{1,4}[ \t]*[.)\]:：、．](?!\d)|\d{1,4}[ \t]+[-–—](?=\s))"
    r"(?:\*\*|__)?[ \t]*(?P<body>.*)$"
)
_BULLET = re.compile(r"^[ \t]*[-*•–—·▪●◦‣+►➢✓][ \t]+(?P<body>.*)$")
_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]|\*\*[^*]+\*\*:?[ \t]*$|[^\n]{0,80}:[ \t]*$)")
_STRUCTURAL = re.compile(r"^[\s\[\]{}(),`]*$")
_NOTE = re.compile(
    r"^[\s*_(\[]*(?:translation|translated|english|in english|meaning|note|transliteration|romani[sz]ation|"
    r"pronunciation|label|category|intent)\b",
    re.I,
)
_CHATTER = re.compile(
    r"^[\s*_#>]*(?:sure|certainly|of course|okay|ok\b|absolutely|alright|great|no problem|here(?:'s| is| are)|"
    r"below (?:is|are)|the following|these are|these (?:texts|sentences|examples)|i hope|hope (?:this|these|that)|"
    r"let me know|feel free|i(?:'ve| have) (?:written|generated|created|provided|included|made)|as requested|"
    r"happy to|please note|note:|each (?:text|sentence|example)|enjoy|good luck|i can(?:not|'t)|i'm sorry|"
    r"i am sorry|as an ai)\b",
    re.I,
)


_META = re.compile(
    r"\b(?:examples?|sentences?|texts?|samples?|messages?|hope|help|helpful|requested|let me know|more)\b|[:：]\s*$",
    re.I,
)


def _is_chatter(body: str) -> bool:
    """The model talking ("Sure! Here are 10 examples in Swahili:"), not a sample that starts with "Okay"."""
    return bool(_CHATTER.match(body)) and (len(body) < 25 or bool(_META.search(body)))


@dataclass
class _Line:
    text: str
    kind: Literal["numbered", "bulleted", "plain", "blank", "structural"]
    body: str
    indented: bool


def _classify(line: str) -> _Line:
    stripped = line.strip()
    indented = line[:1] in (" ", "\t")
    if not stripped:
        return _Line(line, "blank", "", indented)
    if _STRUCTURAL.match(stripped) or stripped.startswith("```"):
        return _Line(line, "structural", "", indented)
    listed: tuple[tuple[Literal["numbered", "bulleted"], re.Pattern[str]], ...] = (
        ("numbered", _NUMBERED),
        ("bulleted", _BULLET),
    )
    for kind, pattern in listed:
        match = pattern.match(line)
        if match:
            return _Line(line, kind, match.group("body").strip(), indented)
    return _Line(line, "plain", stripped, indented)


def _from_lines(text: str, truncated: bool, n_expected: int | None) -> tuple[list[_Candidate], list[DroppedLine], str]:
    lines = [_classify(line) for line in text.split("\n")]
    content = [line for line in lines if line.kind not in ("blank", "structural")]
    numbered = sum(1 for line in content if line.kind == "numbered")
    bulleted = sum(1 for line in content if line.kind == "bulleted")
    unindented = sum(1 for line in content if line.kind != "plain" or not line.indented)
    if numbered >= 2 or (numbered and numbered * 2 >= unindented):
        candidates, dropped = _list_items(lines, "numbered")
        fmt = "numbered"
    elif bulleted and bulleted * 2 >= unindented:
        candidates, dropped = _list_items(lines, "bulleted")
        fmt = "bulleted"
    else:
        candidates, dropped = _plain_lines(content, n_expected)
        fmt = "lines"
    _mark_cut(candidates, truncated)
    return candidates, dropped, fmt


def _list_items(lines: list[_Line], kind: str) -> tuple[list[_Candidate], list[DroppedLine]]:
    items: list[list[_Line]] = []
    dropped: list[DroppedLine] = []
    after_blank = False
    for index, line in enumerate(lines):
        if line.kind in ("blank", "structural"):
            after_blank = after_blank or line.kind == "blank"
            continue
        if line.kind == kind:
            items.append([line])
        elif not items:
            dropped.append(DroppedLine(_short(line.text), REASON_PREAMBLE))
        elif _NOTE.match(line.body):
            dropped.append(DroppedLine(_short(line.text), REASON_NOTE))
        elif len(items[-1]) == 1 and not items[-1][0].body:  # "1." alone, its text on the next line
            items[-1][0].body = line.body
        elif _continues(line, after_blank, any(later.kind == kind for later in lines[index + 1 :])):
            items[-1].append(line)
        else:
            dropped.append(DroppedLine(_short(line.text), REASON_PREAMBLE))
        after_blank = False
    candidates = []
    for item in items:
        body = "\n".join([item[0].body, *(line.text.strip() for line in item[1:])]).strip()
        candidates.append(_Candidate(_without_inline_note(body), "\n".join(line.text for line in item)))
    return candidates, dropped


def _continues(line: _Line, after_blank: bool, more_items: bool) -> bool:
    """A non-item line under an item: part of it (a second line of a longer text), or the model's own words?"""
    if _is_chatter(line.body) or _HEADING.match(line.text):
        return False
    if line.indented:
        return True
    return not after_blank and more_items


def _without_inline_note(body: str) -> str:
    note = _QUOTED_THEN_NOTE.match(body)
    return note.group("body").strip() if note else body


def _plain_lines(content: list[_Line], n_expected: int | None) -> tuple[list[_Candidate], list[DroppedLine]]:
    dropped: list[DroppedLine] = []
    start, end = 0, len(content)
    while start < end and (_is_chatter(content[start].body) or _HEADING.match(content[start].text)):
        dropped.append(DroppedLine(_short(content[start].text), REASON_PREAMBLE))
        start += 1
    tail: list[DroppedLine] = []
    while end > start and _is_chatter(content[end - 1].body):
        tail.insert(0, DroppedLine(_short(content[end - 1].text), REASON_PREAMBLE))
        end -= 1
    kept = content[start:end]
    if n_expected and len(kept) > n_expected and re.search(rf"(?<!\d){n_expected}(?!\d)", kept[0].body):
        dropped.append(DroppedLine(_short(kept[0].text), REASON_PREAMBLE))  # "Hapa kuna mifano 10 ..."
        kept = kept[1:]
    candidates = []
    for line in kept:
        parsed = _json_line(line.body)
        candidates.append(_Candidate(parsed if parsed is not None else line.body, line.text))
    return candidates, dropped + tail


def _json_line(body: str) -> str | None:
    """A line of JSON Lines output: {"text": "..."} or a JSON string."""
    if not body.startswith(("{", '"')):
        return None
    try:
        value = json.loads(body.rstrip(","))
    except (ValueError, RecursionError):
        return None
    if isinstance(value, str):
        return value
    return _text_of(value) if isinstance(value, dict) else None


def _mark_cut(candidates: list[_Candidate], truncated: bool) -> None:
    if not candidates:
        return
    last = candidates[-1]
    if truncated or _unclosed_quote(last.text):
        last.cut = True


def _unclosed_quote(text: str) -> bool:
    text = text.strip()
    if not text or text[0] not in QUOTE_PAIRS:
        return False
    closers = QUOTE_PAIRS[text[0]]
    return len(text) == 1 or (text.rstrip(",. ")[-1] not in closers and not any(c in text[1:] for c in closers))
