"""Generate: plan labels x languages, estimate, start, watch, cancel, resume; the history of runs."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from components.backend_picker import backend_picker, resume_env
from components.feedback import flash, friendly_errors
from components.job_progress import live_job
from components.page_opening import open_project_page
from components.people import namer
from components.role_gate import gate, may
from components.safe_text import md
from components.studio_state import current_actor
from core.front.generation import (
    GenerationSettings,
    estimate,
    get_run,
    launch_generation,
    list_runs,
    request_rows,
    resume_generation,
    run_counts,
    run_resume,
    start_problem,
)
from core.front.jobs import cancel_job, list_jobs
from core.front.prompts import BUILTIN_TEMPLATES, ensure_builtin_templates
from core.language_names import language_name
from core.settings import get_settings

store, project = open_project_page(
    "Generate", without_project="Create a project first: generation needs its labels and languages."
)
actor = current_actor()

templates = ensure_builtin_templates(actor, project)
active = [j for j in list_jobs(actor, project.id, kind="generate") if j.active]
for job in active:
    live_job(store, job.id)


def start(settings: GenerationSettings, worker_env: dict[str, str]) -> None:
    with friendly_errors("Starting the run"):
        run = launch_generation(actor, project, settings, extra_env=worker_env).run
        st.query_params["run"] = str(run.id)
        flash(f"Run #{run.id} started.", "info")
        st.rerun()


if gate("generation.run"):
    with st.expander("New run", expanded=not active, icon=":material/add_circle:"):
        left, right = st.columns(2)
        strategy = left.selectbox(
            "Strategy",
            [s for s in BUILTIN_TEMPLATES if s != "targeted"],  # targeted runs start from a weak cell (Evaluate page)
            key="gen_strategy",
            format_func=lambda s: f"{s} — {BUILTIN_TEMPLATES[s].explanation}",
        )
        refs = [t.ref for t in templates]
        default_ref = next(
            (t.ref for t in templates if t.name == ("zero-shot" if strategy == "revise" else strategy)), refs[0]
        )
        template = right.selectbox(
            "Prompt template",
            refs,
            index=refs.index(default_ref),
            key=f"gen_template_{strategy}",
            help="Edit templates on the Prompts page; each saved edit is a new version.",
        )
        choice = backend_picker("gen", show_problem=False)  # its problem is shown next to Start
        st.markdown("**Samples per label × language** (0 skips a cell)")
        per_cell = st.number_input("Default per cell", min_value=1, max_value=10_000, value=10, key="gen_per_cell")
        grid = pd.DataFrame(
            {label: [int(per_cell)] * len(project.languages) for label in project.label_names},
            index=[f"{language_name(c)} ({c})" for c in project.language_codes],
        )
        edited = st.data_editor(
            grid,
            key=f"gen_grid_{per_cell}",
            width="stretch",
            column_config={
                label: st.column_config.NumberColumn(label, min_value=0, max_value=10_000, step=1)
                for label in project.label_names
            },
        )
        plan = {
            code: {label: int(edited.iloc[i][label] or 0) for label in project.label_names}
            for i, code in enumerate(project.language_codes)
        }
        with st.expander("Advanced"):
            a, b, c = st.columns(3)
            temperature = a.slider("Temperature", 0.0, 2.0, 1.0, 0.05, key="gen_temperature")
            top_p = b.slider("Top p", 0.05, 1.0, 1.0, 0.05, key="gen_top_p")
            max_tokens = c.number_input(
                "Max tokens per answer",
                16,
                32_000,
                1024,
                key="gen_max_tokens",
                help="A small model that loops spends minutes per answer: a lower limit stops it sooner. Answers "
                "cut at the limit lose their last samples; the run says so.",
            )
            per_request = a.number_input("Samples asked per request", 1, 100, 10, key="gen_per_request")
            concurrency = b.number_input(
                "Requests at once",
                1,
                256,
                8,
                key="gen_concurrency",
                help="At most this many; never more than the server works on at once (the run finds out).",
            )
            seed_text = c.text_input("Seed (empty: a new one, so a new run asks anew)", key="gen_seed")
            json_output = a.checkbox("Ask the server for JSON output", key="gen_json")
            examples_k = b.number_input("Examples in the prompt (demos)", 0, 50, 5, key="gen_examples_k")
            examples_method = c.selectbox("Example choice", ["random", "diverse"], key="gen_examples_method")
            defaults = get_settings()
            idle_timeout = a.number_input(
                "Silence allowed (s)",
                1.0,
                86_400.0,
                float(defaults.llm_idle_timeout),
                step=30.0,
                format="%.0f",
                key="gen_idle_timeout",
                help="The longest the server may send nothing: before its first token (reading the prompt) or between "
                "tokens. A model on a CPU may need minutes before its first token.",
            )
            total_timeout = b.number_input(
                "Time limit per answer (s, 0: none)",
                0.0,
                86_400.0,
                float(defaults.llm_timeout or 0.0),
                step=60.0,
                format="%.0f",
                key="gen_timeout",
                help="Answers stream, so no limit is needed for a slow server; set one to stop a model that goes on.",
            )
            connect_timeout = c.number_input(
                "Connect within (s)",
                1.0,
                600.0,
                float(defaults.llm_connect_timeout),
                format="%.0f",
                key="gen_connect_timeout",
            )
        settings = GenerationSettings(
            backend=choice.backend,
            model=choice.model,
            base_url=choice.base_url,
            strategy=strategy,
            template=template,
            per_cell=int(per_cell),
            plan=plan,
            temperature=float(temperature),
            top_p=float(top_p),
            max_tokens=int(max_tokens),
            per_request=int(per_request),
            concurrency=int(concurrency),
            seed=int(seed_text) if seed_text.strip().isdigit() else None,
            json_output=json_output,
            examples_k=int(examples_k),
            examples_method=examples_method,
            connect_timeout=float(connect_timeout),
            idle_timeout=float(idle_timeout),
            timeout=float(total_timeout) or None,
        )
        planned_cells = [(code, label) for code, labels in plan.items() for label, n in labels.items() if n > 0]
        blocker = start_problem(choice.backend, choice.model, choice.problem, planned_cells)
        if planned_cells and not (blocker and choice.backend == "replay"):  # the recording cannot serve this plan
            st.info(estimate(project, settings).describe(), icon=":material/calculate:")
        if blocker:
            st.warning(md(blocker), icon=":material/block:")
        if st.button(
            "Start generating",
            type="primary",
            icon=":material/play_arrow:",
            disabled=blocker is not None,
            help=md("Not yet: " + blocker) if blocker else None,
        ):
            start(settings, choice.worker_env)

runs = list_runs(actor, project)
if not runs:
    st.caption("No run yet. Samples you generate arrive as *pending* synthetic samples for curation.")
    st.stop()

st.subheader("Runs")
person = namer()
table = pd.DataFrame(
    [
        {
            "run": r.id,
            "status": r.status,
            "strategy": r.strategy,
            "backend": r.backend + (" (recorded)" if r.backend == "replay" else ""),
            "model": r.model,
            "planned": r.planned_samples,
            "tokens": r.prompt_tokens + r.completion_tokens,
            "cost $": r.cost_text,
            "message": r.message,
            "started": r.created_at,
            "by": person(r.created_by),
        }
        for r in runs
    ]
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "started": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
    },
)
ids = [r.id for r in runs]
requested = st.query_params.get("run")
default = ids.index(int(requested)) if requested and requested.isdigit() and int(requested) in ids else 0
chosen = get_run(actor, st.selectbox("Run details", ids, index=default, format_func=lambda i: f"#{i}"))
resume = run_resume(actor, chosen, active)
job_active = resume.job_active


@st.fragment(run_every=1.0 if job_active else None)
def cell_progress() -> None:
    """Samples per cell, refreshed every second while the run's job is active."""
    counts = run_counts(actor, chosen)
    cells = pd.DataFrame(
        [
            {
                "language": language_name(lang),
                "label": label,
                "wanted": n,
                "generated": counts.samples.get((lang, label), 0),
                "requests": counts.requests.get((lang, label), 0),
            }
            for (lang, label), n in chosen.cells()
        ]
    )
    st.dataframe(cells, hide_index=True, width="stretch")
    st.caption(
        md(
            f"{counts.answered} answers, {counts.failed} failed, {counts.unsent} without an answer · "
            f"settings: {chosen.strategy}, {chosen.backend} {chosen.model}"
            + (f" at {chosen.base_url}" if chosen.base_url else "")
        )
    )


cell_progress()
if chosen.status == "failed" and not job_active:
    st.error(
        md(f"Run #{chosen.id} failed: {chosen.message or 'no reason was recorded.'}")
        + "\n\n**What to do:** "
        + resume.next_step,
        icon=":material/error:",
    )
elif chosen.status == "incomplete" and not job_active:
    st.warning(md(f"Run #{chosen.id} is incomplete: {chosen.message}") + "\n\n" + resume.next_step)
if resume.can_resume and may("generation.run"):
    st.caption(
        "Resume sends only the requests without an answer, then asks again where cells fall short: "
        "nothing already answered is paid twice."
    )
    if st.button(f"Resume run #{chosen.id}", icon=":material/resume:"):
        with friendly_errors("Resuming"):
            resume_generation(actor, chosen, extra_env=resume_env())
            flash(f"Run #{chosen.id} resumed.", "info")
            st.rerun()
if resume.job is not None and may("jobs.cancel") and st.button("Cancel this run", icon=":material/stop:"):
    cancel_job(actor, resume.job.id)
    st.rerun()
with st.expander("Requests and raw answers"):
    st.dataframe(
        pd.DataFrame([asdict(r) for r in request_rows(actor, chosen)]),
        hide_index=True,
        width="stretch",
        column_config={"answer": st.column_config.TextColumn("raw answer", width="large")},
    )
