"""Picking languages by name from the ISO 639 list."""

from __future__ import annotations

import streamlit as st

from core.language_names import LANGUAGES


def language_label(code: str) -> str:
    language = LANGUAGES.get(code)
    if language is None:
        return code
    native = f" · {language.native}" if language.native and language.native != language.name else ""
    low = " · low-resource" if language.low_resource else ""
    return f"{language.name} ({code}){native}{low}"


def language_multiselect(label: str, default: list[str], key: str) -> list[str]:
    options = list(LANGUAGES)
    for code in default:
        if code not in LANGUAGES:
            options.append(code)
    return st.multiselect(
        label,
        options,
        default=default,
        format_func=language_label,
        key=key,
        placeholder="Type a language name or code, e.g. Swahili or sw",
    )
