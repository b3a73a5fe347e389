"""Settings: the project's encoder, the models on this machine and their disk use, the studio's configuration."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.feedback import flash, friendly_errors
from components.job_progress import live_job
from components.page_opening import open_page
from components.role_gate import gate, may
from components.safe_text import say
from components.studio_state import current_actor
from core.front.jobs import list_jobs
from core.front.settings import (
    BUNDLED_MODELS,
    configured_servers,
    launch_provision,
    provisioned_models,
    set_encoder,
    studio_configuration,
)

OTHER = "another model: a hub id or a folder on this machine…"

store, project = open_page("Settings")
actor = current_actor()

models = provisioned_models(actor)
provisioned_specs = [m.spec for m in models]

if project is not None:
    st.subheader(say("Encoder of '{}'", project.name))
    st.caption(
        "The encoder turns texts into vectors for near-duplicate detection and training. Embeddings and "
        "similarity thresholds are stored per encoder, so changing it never mixes two models: the next "
        "curation run simply embeds again."
    )
    options = [*dict.fromkeys([project.encoder, *BUNDLED_MODELS, *provisioned_specs]), OTHER]
    choice = st.selectbox(
        "Encoder",
        options,
        index=0,
        key=f"encoder_choice_{project.id}",
        format_func=lambda s: s + ("  (provisioned)" if s in provisioned_specs else ""),
    )
    custom = ""
    if choice == OTHER:
        custom = st.text_input(
            "Hub id or folder",
            placeholder="intfloat/multilingual-e5-base or /models/xlmr",
            key=f"encoder_custom_{project.id}",
        )
    wanted = custom.strip() if choice == OTHER else choice
    if gate("project.edit") and st.button(
        "Use this encoder", disabled=not wanted or wanted == project.encoder, type="primary"
    ):
        with friendly_errors("Changing the encoder"):
            updated = set_encoder(actor, project, wanted)
            flash(f"'{updated.name}' now uses {updated.encoder}.")
            st.rerun()

st.subheader("Models on this machine")
if models:
    table = pd.DataFrame(
        [
            {"model": m.spec, "kind": m.kind, "size (MB)": round(m.size_bytes / 1e6), "folder": str(m.path)}
            for m in models
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"Disk use: {sum(m.size_bytes for m in models) / 1e6:,.0f} MB in all.")
else:
    st.info(
        "No model is provisioned yet. The bundled multilingual encoder (multilingual-e5-small, 100+ languages) "
        "ships inside the studio and is converted once, offline, on first use (about 20 s, 470 MB)."
    )

running = [j for j in list_jobs(actor, kind="provision") if j.active]
for job in running:
    live_job(store, job.id)
missing_bundled = [spec for spec in BUNDLED_MODELS if spec not in provisioned_specs]
if (
    missing_bundled
    and not running
    and may("models.provision")
    and st.button("Provision the bundled encoder now", icon=":material/download_for_offline:")
):
    with friendly_errors("Starting the provisioning"):
        launch_provision(actor, missing_bundled[0])
        st.rerun()

st.subheader("API keys")
st.markdown(
    "The studio never saves a key: not in the database, a job, a log or a page. Keys go in one of two places:\n"
    "- **On the Generate page**, for this browser session: under *Who writes the samples*, pick *OpenAI or any "
    "OpenAI-compatible server*, then *another server*, and type the address and the key. The key is sent only to "
    "that address and is gone when the session ends.\n"
    "- **On the studio's server**, set up by whoever runs the studio: `OPENAI_API_KEY` (with `OPENAI_BASE_URL` for "
    "a server other than OpenAI) in the environment or in `.streamlit/secrets.toml`, and more servers as named "
    "endpoints in `.streamlit/secrets.toml` or on the Team page (see the README). Each of these keys is sent only "
    "to its own address.\n"
    "\nA server on this machine (Ollama, llama.cpp, vLLM or LM Studio at `127.0.0.1` or `localhost`) needs no key. "
    "Recorded answers (replay) need none either."
)
servers = configured_servers(actor)
if servers:
    st.caption("Servers set up on the studio's server (offered by name on the Generate page):")
    st.dataframe(
        pd.DataFrame(
            [
                {"name": s.name, "address": s.base_url, "models": ", ".join(s.models) or "any (typed)",
                 "key": s.key_state}
                for s in servers
            ]
        ),
        hide_index=True,
        width="stretch",
    )  # fmt: skip
else:
    st.info(
        "No server is set up on the studio's server yet: type an address and a key on the Generate page, or ask "
        "whoever runs the studio to set OPENAI_API_KEY or add a named endpoint (Team page or .streamlit/secrets.toml).",
        icon=":material/key:",
    )

st.subheader("Studio configuration")
st.caption("Set by environment variables when the studio starts (see the README).")
st.dataframe(
    pd.DataFrame(
        [{"setting": row.setting, "variable": row.variable, "value": row.value} for row in studio_configuration(actor)]
    ),
    hide_index=True,
    width="stretch",
)
