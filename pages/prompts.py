"""Prompts: edit a template with a live preview for a real cell, keep versions with diffs, try it right away."""

from __future__ import annotations

import streamlit as st

from components.backend_picker import backend_picker
from components.feedback import flash, friendly_errors
from components.job_progress import live_job
from components.page_opening import open_project_page
from components.people import person
from components.role_gate import gate, may
from components.safe_text import md, say, show_text
from components.studio_state import current_actor
from core.front.generation import (
    GenerationSettings,
    cell_outputs,
    get_run,
    launch_generation,
    request_rows,
    start_problem,
)
from core.front.jobs import get_job
from core.front.prompts import (
    BUILTIN_TEMPLATES,
    PromptTemplateText,
    ensure_builtin_templates,
    preview_prompt,
    save_template,
    template_diff,
    template_versions,
    validate,
)
from core.language_names import language_name

NEW = "+ new template"

store, project = open_project_page(
    "Prompts", without_project="Create a project first: prompts are written for its labels and languages."
)
actor = current_actor()

templates = ensure_builtin_templates(actor, project)
names = [t.name for t in templates]
if "_prompt_select" in st.session_state:  # after a save: show the saved template and version as current
    saved_name, saved_version = st.session_state.pop("_prompt_select")
    st.session_state["prompt_name"] = saved_name
    st.session_state[f"prompt_version_{saved_name}"] = saved_version
top = st.columns([2, 1, 1])
if st.session_state.get("prompt_name") not in [*names, NEW]:
    st.session_state["prompt_name"] = "zero-shot" if "zero-shot" in names else names[0]
name = top[0].selectbox("Template", [*names, NEW], key="prompt_name")
versions = template_versions(actor, project, name) if name != NEW else []
version = (
    top[1].selectbox(
        "Version",
        [v.version for v in versions],
        key=f"prompt_version_{name}",
        format_func=lambda v: f"v{v}" + (" (newest)" if versions and v == versions[0].version else ""),
        help="Each saved version keeps who saved it and when (shown below the editor).",
    )
    if versions
    else None
)
current = next((v for v in versions if v.version == version), None)
if name == NEW:
    new_name = top[1].text_input("Name of the new template", key="prompt_new_name")
    base = BUILTIN_TEMPLATES["zero-shot"].template
    system_default, user_default, strategy_default = base.system, base.user, "zero-shot"
else:
    new_name = name
    system_default, user_default = current.system, current.user
    strategy_default = current.strategy
strategy = top[2].selectbox(
    "Strategy",
    list(BUILTIN_TEMPLATES),
    key=f"prompt_strategy_{name}_{version}",
    index=list(BUILTIN_TEMPLATES).index(strategy_default) if strategy_default in BUILTIN_TEMPLATES else 0,
)
st.caption(BUILTIN_TEMPLATES[strategy].explanation)

if current is not None:
    st.caption(
        say(
            "v{} saved by {} on {} UTC",
            current.version,
            person(current.created_by),
            f"{current.created_at:%Y-%m-%d %H:%M}",
        )
    )
edit, preview = st.columns(2)
with edit:
    system = st.text_area("System message", value=system_default, height=140, key=f"prompt_system_{name}_{version}")
    user = st.text_area("User message", value=user_default, height=420, key=f"prompt_user_{name}_{version}")
    st.caption(
        "Variables: {{ task }}, {{ label }}, {{ label_description }}, {{ label_name }}, {{ language }}, "
        "{{ language_code }}, {{ n }}, {{ examples }}, {{ taboo_words }}, {{ earlier_outputs }}, "
        "{{ other_labels }}, {{ samples }} (revise). Templates run in a sandbox: no code can run."
    )
    template = PromptTemplateText(system=system, user=user)
    problems = validate(template, kind="revise" if strategy == "revise" else "generate")
    for problem in problems:
        (st.error if problem.is_error else st.warning)(md(problem))
    changed = current is None or (system, user, strategy) != (current.system, current.user, current.strategy)
    if gate("prompts.edit") and st.button(
        "Save as a new version",
        type="primary",
        disabled=not changed or any(p.is_error for p in problems),
        icon=":material/save:",
    ):
        with friendly_errors("Saving the template"):
            saved = save_template(actor, project, new_name, strategy=strategy, system=system, user=user)
            st.session_state["_prompt_select"] = (saved.name, saved.version)
            flash(f"Saved {saved.ref}.")
            st.rerun()

with preview:
    a, b = st.columns(2)
    language = a.selectbox(
        "Preview for language", project.language_codes, format_func=language_name, key="prompt_preview_language"
    )
    label = b.selectbox("and label", project.label_names, key="prompt_preview_label")
    with friendly_errors("Rendering the preview"):
        rendered = preview_prompt(actor, project, template, strategy, (language, label))
        st.markdown("**Exactly what will be sent** (examples drawn from human TRAIN samples only)")
        for message in rendered.messages:
            st.caption(message["role"])
            st.code(message["content"], language=None, wrap_lines=True)

if len(versions) > 1:
    with st.expander("Compare versions"):
        c, d = st.columns(2)
        old = c.selectbox("Older", [v.version for v in versions][1:], key=f"diff_old_{name}")
        new = d.selectbox("Newer", [v.version for v in versions], key=f"diff_new_{name}")
        st.code(
            template_diff(next(v for v in versions if v.version == old), next(v for v in versions if v.version == new)),
            language="diff",
        )

if not may("generation.run"):
    st.stop()
st.subheader("Try it")
st.caption(
    "Generates 5 samples for the cell in the preview with the saved version shown above. They are kept as "
    "pending samples like any other; reject them during curation if you do not want them."
)
choice = backend_picker("try", show_problem=False)
blocker = start_problem(choice.backend, choice.model, choice.problem, [(language, label)])
if blocker:
    st.warning(md(blocker), icon=":material/block:")
try_key = f"try_run_{project.id}"
if st.button(
    "Try it",
    disabled=current is None or changed or blocker is not None,
    icon=":material/science:",
    help="Save your changes first" if changed else None,
):
    with friendly_errors("Trying the prompt"):
        launched = launch_generation(
            actor,
            project,
            GenerationSettings(
                backend=choice.backend,
                model=choice.model,
                base_url=choice.base_url,
                strategy=strategy,
                template=current.ref,
                per_cell=5,
                per_request=5,
                plan={language: {label: 5}},
                request_budget=1.0,
            ),
            extra_env=choice.worker_env,
        )
        st.session_state[try_key] = (launched.run.id, launched.job.id)
        st.rerun()
if try_key in st.session_state:
    run_id, job_id = st.session_state[try_key]
    live_job(store, job_id)
    if not get_job(actor, job_id).active:
        run = get_run(actor, run_id)
        texts = cell_outputs(actor, run, (run.cells()[0][0]))
        for text in texts:
            show_text(text)
        for request in request_rows(actor, run):
            with st.expander(f"Raw answer ({request.parsed} kept, {request.dropped} dropped)"):
                st.code(request.answer or request.error, language=None, wrap_lines=True)
