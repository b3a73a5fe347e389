"""Whether the studio may serve on an address: never to the network while no account exists (anyone reaching the
port could do everything), unless the operator opts out with STUDIO_ALLOW_OPEN=1.
"""

from __future__ import annotations

import ipaddress
import logging
import os

from core.accounts.manage import team_mode
from core.store.database import Store

ALLOW_OPEN = "STUDIO_ALLOW_OPEN"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}

logger = logging.getLogger("distill_studio.serving")
_warned: set[str] = set()  # addresses warned about in this process: once per start, not at every page view


def is_loopback(address: str | None) -> bool:
    """Whether only this machine can reach `address` (empty: Streamlit's default, which listens everywhere)."""
    host = (address or "").strip().strip("[]")
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_allowed() -> bool:
    return os.environ.get(ALLOW_OPEN, "").strip() == "1"


def bind_problem(address: str | None, store: Store) -> str | None:
    """Why the studio must not serve on `address`, or None when it may. With STUDIO_ALLOW_OPEN=1 it may, and a
    warning is logged every time."""
    if is_loopback(address) or team_mode(store):
        return None
    where = address.strip() if address and address.strip() else "every network address"
    if open_allowed():
        if where in _warned:
            return None
        _warned.add(where)
        logger.warning(
            "STUDIO_ALLOW_OPEN=1: serving on %s with no account, so anyone who reaches the port can do everything.",
            where,
        )
        return None
    return (
        f"The studio will not serve on {where} while no account exists: anyone who reached it could read, change "
        "and delete every project. Create the first owner with `python -m core users add NAME --role owner` "
        "(it asks for the password), or serve on 127.0.0.1 only. To serve open anyway, set STUDIO_ALLOW_OPEN=1."
    )
