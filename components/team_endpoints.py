"""The Team page's LLM endpoints: everyone sees the named servers leads pick from, whether each one's key is set on
the server (never the key) and can check a connection; owners add, change and remove the endpoints kept in the store
(those of the server's files are read only).

Every change goes through core.front.endpoints, which checks the acting user's role itself."""

from __future__ import annotations

import asyncio

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.safe_text import md, say
from core.front.actor import Actor
from core.front.endpoints import (
    EndpointSpec,
    EndpointView,
    add_endpoint,
    change_endpoint,
    list_endpoints,
    parse_models,
    remove_endpoint,
)
from core.front.generation import check_server
from core.front.permissions import allowed

ADD_FIELDS = ("ep_new_name", "ep_new_url", "ep_new_models", "ep_new_key_env")
KEY_ENV_HELP = (
    "The name of an environment variable on the studio's server, or of an entry in its .streamlit/secrets.toml, "
    "that holds the key: for example GROQ_API_KEY. Never the key itself: the studio does not store keys. "
    "Empty for a server on this machine, which needs none."
)
MODELS_HELP = "One per line, or separated by commas. Leads pick one of these, or type another name."


def _forget(*keys: str) -> None:
    for key in keys:
        st.session_state.pop(key, None)


def endpoints_table(views: list[EndpointView]) -> None:
    table = pd.DataFrame(
        [
            {
                "name": v.name,
                "address": v.base_url,
                "models": ", ".join(v.models) or "any (typed)",
                "key from": v.key_env or "none",
                "key on the server": v.key_state,
                "set": v.where,
                "changed by": v.changed_by,
            }
            for v in views
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")


def endpoints_section(actor: Actor) -> None:
    """The named endpoints; for owners, the forms that change them."""
    st.caption(
        "Named servers that leads pick on the Generate, Prompts and Evaluate pages. The studio never stores a key: "
        "each endpoint names the variable (environment or .streamlit/secrets.toml) that holds its key on the "
        "server, and that key only ever goes to the endpoint's own address."
    )
    views = list_endpoints(actor)
    if views:
        endpoints_table(views)
        for view in views:
            if not view.in_use:
                st.warning(say("{} is not offered on the pages: {}", view.name, view.note), icon=":material/block:")
        check_connection_form(actor, views)
    else:
        st.info("No endpoint yet: leads type a server's address (and its key) on each page.", icon=":material/dns:")
    if not allowed(actor, "endpoints.manage"):
        st.caption("Only an owner can add, change or remove endpoints.")
        return
    add_endpoint_form(actor)
    editable = [v for v in views if v.editable]
    if editable:
        change_endpoint_forms(actor, editable)


def check_connection_form(actor: Actor, views: list[EndpointView]) -> None:
    by_name = {v.name: v for v in views}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Endpoint to check", list(by_name), format_func=lambda n: f"{n} · {by_name[n].base_url}", key="ep_check_pick"
    )
    if right.button(
        "Check the connection",
        key="ep_check",
        icon=":material/wifi_tethering:",
        disabled=not allowed(actor, "endpoints.check"),
    ):
        with friendly_errors("Checking the connection"):
            report = asyncio.run(check_server(actor, by_name[chosen].base_url, None, ""))
            (st.success if report.serves_model else st.warning)(md(report.text))
            missing = [m for m in by_name[chosen].models if report.served is not None and m not in report.served]
            if missing:
                st.warning(
                    say("Listed here but not served there: {}. Change the endpoint's models.", ", ".join(missing)),
                    icon=":material/help:",
                )


def _models_text(models: tuple[str, ...]) -> str:
    return "\n".join(models)


def add_endpoint_form(actor: Actor) -> None:
    st.subheader("Add an endpoint")
    with st.form("ep_add"):
        left, right = st.columns(2)
        name = left.text_input("Name", key="ep_new_name", help="Letters, digits, - and _: for example groq")
        base_url = right.text_input(
            "Server address (base URL)",
            key="ep_new_url",
            placeholder="https://api.groq.com/openai/v1 · http://127.0.0.1:8000/v1",
        )
        models = left.text_area("Models", key="ep_new_models", help=MODELS_HELP, height=100)
        key_env = right.text_input("Where the key comes from", key="ep_new_key_env", help=KEY_ENV_HELP,
                                   placeholder="GROQ_API_KEY")  # fmt: skip
        submitted = st.form_submit_button("Add the endpoint", type="primary", icon=":material/add_link:")
    if not submitted:
        return
    with friendly_errors("Adding the endpoint"):
        endpoint = add_endpoint(actor, EndpointSpec(name, base_url, parse_models(models), key_env))
        flash(f"Added the endpoint {endpoint.name} at {endpoint.base_url}.")
        _forget(*ADD_FIELDS)
        st.rerun()


def change_endpoint_forms(actor: Actor, editable: list[EndpointView]) -> None:
    st.subheader("Change or remove an endpoint")
    by_name = {v.name: v for v in editable}
    chosen = st.selectbox("Endpoint", list(by_name), key="ep_pick")
    view = by_name[chosen]
    with st.form(f"ep_change_{view.name}"):
        left, right = st.columns(2)
        name = left.text_input("Name", value=view.name, key=f"ep_name_{view.name}")
        base_url = right.text_input("Server address (base URL)", value=view.base_url, key=f"ep_url_{view.name}")
        models = left.text_area(
            "Models", value=_models_text(view.models), key=f"ep_models_{view.name}", help=MODELS_HELP, height=100
        )
        key_env = right.text_input(
            "Where the key comes from", value=view.key_env, key=f"ep_key_env_{view.name}", help=KEY_ENV_HELP
        )
        submitted = st.form_submit_button("Save the changes", icon=":material/save:")
    if submitted:
        with friendly_errors("Changing the endpoint"):
            changed = change_endpoint(actor, view.name, EndpointSpec(name, base_url, parse_models(models), key_env))
            flash(f"The endpoint {changed.name} is saved ({changed.base_url}).")
            _forget(f"ep_name_{view.name}", f"ep_url_{view.name}", f"ep_models_{view.name}",
                    f"ep_key_env_{view.name}", "ep_pick")  # fmt: skip
            st.rerun()
    st.caption(
        "Runs that used an endpoint keep its address: after a removal, resuming them needs an endpoint at that "
        "address again, or a key typed for it."
    )
    sure = st.checkbox(say("Yes, remove {}", view.name), key=f"ep_remove_sure_{view.name}")
    if st.button("Remove the endpoint", key="ep_remove", icon=":material/link_off:", disabled=not sure):
        with friendly_errors("Removing the endpoint"):
            remove_endpoint(actor, view.name)
            flash(f"Removed the endpoint {view.name}.")
            _forget(f"ep_remove_sure_{view.name}", "ep_pick")
            st.rerun()
