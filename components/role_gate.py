"""What the signed-in person's role allows, for hiding what they may not do (core refuses it anyway: this only
keeps buttons that would be refused off the page)."""

from __future__ import annotations

import streamlit as st

from components.safe_text import md
from components.studio_state import current_actor
from core.errors import PermissionDenied
from core.front.permissions import require


def may(action: str) -> bool:
    """Whether the acting person may do `action` (an action of core.front.permissions' table)."""
    try:
        require(current_actor(), action)
    except PermissionDenied:
        return False
    return True


def gate(action: str) -> bool:
    """`may(action)`, saying why not in a caption where the controls would be."""
    try:
        require(current_actor(), action)
    except PermissionDenied as exc:
        st.caption(":material/lock: " + md(str(exc).removeprefix("permission denied: ").capitalize() + "."))
        return False
    return True
