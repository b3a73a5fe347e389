"""The scripts each language is written in today, for the languages of core.language_names.

Used to tell when a text is in letters its language does not use (Thai in Latin letters, Russian in Latin
letters, Hebrew in Latin letters). Decisions:
- A language is listed with every script in which it is commonly and officially written: Serbian and Bosnian
  in Cyrillic and Latin, Uzbek, Azerbaijani, Kazakh, Turkmen and Tatar in Latin and Cyrillic, Punjabi in Gurmukhi
  and Shahmukhi (Arabic), Sindhi and Kashmiri in Arabic and Devanagari, Malay also in Jawi (Arabic), Hausa in
  Latin and Ajami (Arabic), Japanese in Chinese characters, Hiragana and Katakana.
- Hindi and Urdu, one language in speech, are two in writing: Hindi in Devanagari, Urdu in Arabic script. An
  Urdu-script text in a Hindi cell is flagged (the detectors call it Urdu anyway).
- Romanised writing that is common in chat but not a standard (Hinglish, Roman Urdu, Arabizi, Greeklish, Thai
  karaoke, pinyin) is NOT a script of the language: a Hindi cell is expected in Devanagari. The curation check
  accepts it for a project whose own human samples of that language are written that way (see
  core.curation.language_id); otherwise a romanised sample is flagged for a person to decide.
- Languages whose script varies too much by place or period (Sanskrit, Pali, Avestan, Church Slavonic) and any
  code not listed are not checked at all: when unsure, no flag.
"""

from __future__ import annotations

from core.language_names import normalize_code
from core.text_scripts import HAN, LATIN

_LATIN_ONLY = """
ace af ak sq an ast quy ay bm bjn eu bem bi br ca ceb ch ny kw co hr cs da dyu nl en eo et ee fo fj fil fi fon fr fur
gl de gn ht haw hz hil ho hmn hu is io ig ilo id ia ie ik ga it kac kbp kea kl kam ki kmb rw rn kg kri kj ltg la lv
lij li ln lt lmo lu lua lg luo lb mad mg mt gv mi mh min lus mos na nv ng nd se nso no nb nn nus oc om gaz pag pap plt
pl pt qu ro rm sm sg sc gd sn scn szl sk sl so nr st dik es sw ss sv tl ty tpi to ts tn tum tr tw umb ve vec vi vo wa
war cy fy xh yo zu
"""

_SCRIPTS: dict[str, tuple[str, ...]] = {code: (LATIN,) for code in _LATIN_ONLY.split()}
_SCRIPTS.update(
    {
        # Latin and others in common use
        "aa": (LATIN, "Ethiopic"),
        "az": (LATIN, "Cyrillic", "Arabic"),
        "azj": (LATIN, "Cyrillic", "Arabic"),
        "ban": (LATIN, "Balinese"),
        "bs": (LATIN, "Cyrillic"),
        "bug": (LATIN, "Buginese"),
        "cr": ("Canadian syllabics", LATIN),
        "crh": (LATIN, "Cyrillic"),
        "ff": (LATIN, "Adlam", "Arabic"),
        "ha": (LATIN, "Arabic"),
        "iu": ("Canadian syllabics", LATIN),
        "jv": (LATIN, "Javanese"),
        "kab": (LATIN, "Tifinagh", "Arabic"),
        "knc": (LATIN, "Arabic"),
        "kr": (LATIN, "Arabic"),
        "kk": ("Cyrillic", LATIN),
        "kmr": (LATIN, "Cyrillic", "Arabic"),
        "ku": (LATIN, "Arabic", "Cyrillic"),
        "ms": (LATIN, "Arabic"),
        "zsm": (LATIN, "Arabic"),
        "oj": (LATIN, "Canadian syllabics"),
        "sr": ("Cyrillic", LATIN),
        "su": (LATIN, "Sundanese"),
        "taq": (LATIN, "Tifinagh", "Arabic"),
        "tk": (LATIN, "Cyrillic"),
        "tt": ("Cyrillic", LATIN),
        "tzm": ("Tifinagh", LATIN, "Arabic"),
        "ug": ("Arabic", "Cyrillic", LATIN),
        "uz": (LATIN, "Cyrillic"),
        "uzn": (LATIN, "Cyrillic"),
        "wo": (LATIN, "Arabic"),
        "za": (LATIN, HAN),
        "kok": ("Devanagari", LATIN, "Kannada"),
        "sat": ("Ol Chiki", LATIN, "Devanagari", "Bengali", "Odia"),
        # Cyrillic
        **{code: ("Cyrillic",) for code in "ab av ba be bg ce cv ky kv mk os ru tg uk".split()},
        "mn": ("Cyrillic", "Mongolian"),
        "khk": ("Cyrillic", "Mongolian"),
        # Arabic
        **{code: ("Arabic",) for code in "ar ckb prs fa ps pbt ur".split()},
        "ks": ("Arabic", "Devanagari"),
        "sd": ("Arabic", "Devanagari"),
        "pa": ("Gurmukhi", "Arabic"),
        # Hebrew
        **{code: ("Hebrew",) for code in "he yi ydd".split()},
        # Brahmic and other scripts of their own
        **{code: ("Devanagari",) for code in "awa bho brx doi hne hi mag mai mr ne".split()},
        "bn": ("Bengali",),
        "as": ("Bengali",),
        "mni": ("Bengali", "Meetei Mayek"),
        "gu": ("Gujarati",),
        "or": ("Odia",),
        "ta": ("Tamil",),
        "te": ("Telugu",),
        "kn": ("Kannada",),
        "ml": ("Malayalam",),
        "si": ("Sinhala",),
        "th": ("Thai",),
        "lo": ("Lao",),
        "km": ("Khmer",),
        "my": ("Myanmar",),
        "shn": ("Myanmar",),
        "bo": ("Tibetan",),
        "dz": ("Tibetan",),
        "dv": ("Thaana",),
        "el": ("Greek",),
        "hy": ("Armenian",),
        "ka": ("Georgian",),
        "am": ("Ethiopic",),
        "ti": ("Ethiopic",),
        "ii": ("Yi",),
        "zh": (HAN, "Bopomofo"),
        "yue": (HAN,),
        "ja": (HAN, "Hiragana", "Katakana"),
        "ko": ("Hangul", HAN),
    }
)


def language_scripts(code: str) -> tuple[str, ...] | None:
    """The scripts a language is written in, its usual one first; None when the studio does not know (then its
    texts are not checked for their script)."""
    key = normalize_code(code)
    return _SCRIPTS.get(key) if key is not None else None
