"""Widget values that outlive their widget: a tab that only runs while it is open (st.tabs with on_change="rerun")
does not draw its widgets while closed, and Streamlit then forgets their values. `kept(key)` gives a widget its key
and a callback that copies each new value aside; the next time the widget is drawn it starts from that copy.

Pass no default value to a widget drawn with `kept` (`index=`, `value=`, `default=`): give it to `kept` instead,
or Streamlit warns that the value was set twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

_ASIDE = "_kept_{}"


def kept(key: str, default: Any = None, *, options: Sequence[Any] | None = None) -> dict[str, Any]:
    """The `key`, `on_change` and `args` of a widget whose value is kept while it is not drawn. With `options`, a
    kept value (or, for a multiselect, the part of it) that is no longer an option is dropped."""
    if key not in st.session_state:
        value = st.session_state.get(_ASIDE.format(key), default)
        if options is not None and value is not None:
            if isinstance(value, list):
                value = [v for v in value if v in options]
            elif value not in options:
                value = default
        if value is not None:
            st.session_state[key] = value
    elif options is not None:  # drawn in the last run with options that have changed since
        value = st.session_state[key]
        if isinstance(value, list) and any(v not in options for v in value):
            set_kept(key, [v for v in value if v in options])
        elif not isinstance(value, list) and value is not None and value not in options:
            set_kept(key, default)
    return {"key": key, "on_change": _keep, "args": (key,)}


def set_kept(key: str, value: Any) -> None:
    """Set a kept widget's value from code (a callback, or before the widget is drawn in this run)."""
    st.session_state[key] = value
    st.session_state[_ASIDE.format(key)] = value


def _keep(key: str) -> None:
    st.session_state[_ASIDE.format(key)] = st.session_state.get(key)
