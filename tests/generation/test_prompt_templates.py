"""Prompt templates: the built-in strategies, rendering, validation, and the sandbox refusing what it must."""

from __future__ import annotations

import time

import pytest

from core.errors import InvalidInput
from core.generation.builtin_templates import BUILTIN_TEMPLATES
from core.generation.prompt_render import (
    PromptContext,
    PromptTemplateText,
    context_for_cell,
    referenced_variables,
    render,
    sample_context,
)
from core.generation.prompt_validation import validate
from core.store.projects import parse_spec

NOT_ALLOWED = "This template tries to use something that is not allowed"


@pytest.fixture
def project():  # type: ignore[no-untyped-def]
    return parse_spec(
        name="Farm SMS",
        task="Sort SMS questions from smallholder farmers by topic.",
        labels=[
            {"name": "weather", "description": "Rain, drought, forecasts.", "names": {"sw": ["hali ya hewa"]}},
            {"name": "prices", "description": "Market prices of crops and inputs."},
            {"name": "plant disease"},
        ],
        languages=[{"code": "sw"}, {"code": "th"}, {"code": "en"}],
    )


def errors(problems):  # type: ignore[no-untyped-def]
    return [p for p in problems if p.is_error]


# --- the built-in strategies -------------------------------------------------------------------------------------


def test_builtins_are_the_five_strategies_with_one_line_explanations() -> None:
    assert list(BUILTIN_TEMPLATES) == ["zero-shot", "demos", "diverse", "revise", "targeted"]
    for key, builtin in BUILTIN_TEMPLATES.items():
        assert builtin.key == key
        assert builtin.explanation and "\n" not in builtin.explanation and len(builtin.explanation) < 120
    assert BUILTIN_TEMPLATES["revise"].kind == "revise"


@pytest.mark.parametrize("key", list(BUILTIN_TEMPLATES))
def test_every_builtin_validates_clean(key: str) -> None:
    builtin = BUILTIN_TEMPLATES[key]
    assert validate(builtin.template, kind=builtin.kind) == []


@pytest.mark.parametrize("key", list(BUILTIN_TEMPLATES))
@pytest.mark.parametrize("language", ["sw", "th", "en"])
def test_every_builtin_renders_for_a_project_cell(project, key: str, language: str) -> None:  # type: ignore[no-untyped-def]
    context = context_for_cell(
        project,
        "weather",
        language,
        7,
        examples=["Mvua itanyesha lini?"],
        taboo_words=["mvua", "kesho"],
        earlier_outputs=["Mvua itanyesha kesho?"],
        samples=["Mvua itanyesha lini?", "Bei ya mahindi?"],
    )
    rendered = render(BUILTIN_TEMPLATES[key].template, context)
    assert rendered.system and rendered.user
    assert [m["role"] for m in rendered.messages] == ["system", "user"]
    assert rendered.messages[1]["content"] == rendered.user
    assert context.language in rendered.user and f'"{language}"' in rendered.user
    assert "{{" not in rendered.user and "{%" not in rendered.user
    assert "\n\n\n" not in rendered.user and rendered.user == rendered.user.strip()
    assert "Rain, drought, forecasts." in rendered.user  # the label description
    assert "- prices: Market prices of crops and inputs." in rendered.user  # other labels, for contrast
    assert "- plant disease\n" in rendered.user


def test_generation_builtins_ask_for_exactly_n_samples_as_json_in_the_language() -> None:
    context = sample_context(n=7)
    for key in ("zero-shot", "demos", "diverse"):
        user = render(BUILTIN_TEMPLATES[key].template, context).user
        assert "JSON array of exactly 7 strings" in user
        assert "Write in Swahili only" in user
        assert 'label "hali ya hewa" (in English: "weather")' in user
        assert "Swahili (Kiswahili)" in user and 'language code "sw"' in user
        assert "Do not number the texts" in user


def test_strategies_differ_in_what_they_show(project) -> None:  # type: ignore[no-untyped-def]
    context = context_for_cell(
        project,
        "weather",
        "sw",
        5,
        examples=["Mvua ya leo ni kubwa sana\nkweli"],
        taboo_words=["mvua", "kesho"],
        earlier_outputs=["Je, mvua itanyesha kesho asubuhi?"],
    )
    zero = render(BUILTIN_TEMPLATES["zero-shot"].template, context).user
    demos = render(BUILTIN_TEMPLATES["demos"].template, context).user
    diverse = render(BUILTIN_TEMPLATES["diverse"].template, context).user
    assert "- Mvua ya leo ni kubwa sana kweli" in demos  # one line per example
    assert "Mvua ya leo" not in zero and "Mvua ya leo" not in diverse
    assert "mvua, kesho" in diverse and "- Je, mvua itanyesha kesho asubuhi?" in diverse
    assert "Write something different from these" in diverse and "mvua, kesho" not in zero


def test_demos_and_diverse_render_on_a_first_round_without_examples_or_hints() -> None:
    context = PromptContext(task="Route questions", label="weather", language_code="th", n=3)
    for key in ("demos", "diverse"):
        user = render(BUILTIN_TEMPLATES[key].template, context).user
        assert "Here are real" not in user and "Do not use these words" not in user
        assert "Thai (ไทย)" in user


def test_english_cells_are_not_told_to_avoid_translating_from_english(project) -> None:  # type: ignore[no-untyped-def]
    user = render(BUILTIN_TEMPLATES["zero-shot"].template, context_for_cell(project, "prices", "en", 3)).user
    assert "not a translation from English" not in user
    assert 'Do not use the word "prices"' in user


def test_revise_lists_the_samples_numbered_and_defines_the_answer_format() -> None:
    context = PromptContext(task="t", label="weather", language_code="sw", samples=["a\nb", "c", "d"])
    user = render(BUILTIN_TEMPLATES["revise"].template, context).user
    assert "Below are 3 texts" in user
    assert user.endswith("Texts:\n1. a b\n2. c\n3. d")
    for form in ("<number>. KEEP", "<number>. FIX: <the corrected text", "<number>. DROP: <a short reason"):
        assert form in user


def test_referenced_variables_tell_the_engine_what_to_fetch() -> None:
    assert "examples" in referenced_variables(BUILTIN_TEMPLATES["demos"].template)
    assert "examples" not in referenced_variables(BUILTIN_TEMPLATES["zero-shot"].template)
    assert {"taboo_words", "earlier_outputs"} <= referenced_variables(BUILTIN_TEMPLATES["diverse"].template)
    assert "samples" in referenced_variables(BUILTIN_TEMPLATES["revise"].template)


# --- context and rendering ---------------------------------------------------------------------------------------


def test_context_fills_names_from_the_code_and_the_label() -> None:
    context = PromptContext(task="t", label="weather", language_code="hi")
    assert (context.label_name, context.language, context.language_native) == ("weather", "Hindi", "हिन्दी")


def test_no_system_part_gives_one_message() -> None:
    rendered = render(PromptTemplateText(user="Write {{ n }} {{ label }} texts in {{ language }}."), sample_context())
    assert rendered.system == ""
    assert rendered.messages == [{"role": "user", "content": "Write 5 weather texts in Swahili."}]


def test_blocks_take_no_lines_of_their_own() -> None:
    template = PromptTemplateText(user="Examples:\n{% for e in examples %}\n- {{ e }}\n{% endfor %}\nEnd.")
    assert render(template, sample_context()).user == (
        "Examples:\n- Mvua itanyesha lini huku Nakuru?\n- Je, kutakuwa na ukame mwezi ujao?\nEnd."
    )


def test_a_template_cannot_change_the_callers_lists() -> None:
    context = sample_context()
    with pytest.raises(InvalidInput, match=NOT_ALLOWED):
        render(PromptTemplateText(user="{{ examples.append('x') }}{{ n }}"), context)
    assert len(context.examples) == 2


def test_render_errors_are_readable_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"line 2 of the user prompt\): 'nope' is not a known variable"):
        render(PromptTemplateText(user="{{ n }}\n{{ nope }}"), sample_context())
    with pytest.raises(InvalidInput, match="comes out empty"):
        render(PromptTemplateText(user="{% if n > 100 %}{{ n }}{% endif %}"), sample_context())


# --- validation --------------------------------------------------------------------------------------------------


def test_unknown_variable_with_a_suggestion() -> None:
    problems = validate(PromptTemplateText(user="Write {{ n }} texts\nabout {{ lable }} in {{ language }}."))
    assert [p.message for p in problems] == ["Unknown variable 'lable' — did you mean 'label'?"]
    assert (problems[0].part, problems[0].line, problems[0].is_error) == ("user", 2, True)
    assert str(problems[0]) == "User prompt, line 2: Unknown variable 'lable' — did you mean 'label'?"
    far = validate(PromptTemplateText(user="{{ n }} {{ label }} {{ language }} {{ colour }}"))
    assert far[0].message.startswith("Unknown variable 'colour'. The variables are: task, label,")


def test_syntax_errors_unknown_filters_and_the_system_part() -> None:
    broken = validate(PromptTemplateText(user="{{ n }} {{ label }}\n{{ language }}\n{% for e in examples %}"))
    assert broken[0].is_error and broken[0].line == 3 and broken[0].message.startswith("Syntax error:")
    bad_filter = validate(PromptTemplateText(user="{{ n }} {{ label | uper }} {{ language }}"))
    assert bad_filter[0].message == "Unknown filter 'uper' — did you mean 'upper'?"
    system = validate(PromptTemplateText(system="You write {{ langauge }}.", user="{{ n }} {{ label }} {{ language }}"))
    assert system[0].part == "system" and "did you mean 'language'?" in system[0].message


def test_missing_n_or_label_is_a_warning_not_an_error() -> None:
    problems = validate(PromptTemplateText(user="Write some texts in {{ language }}."))
    assert problems and not errors(problems)
    messages = " ".join(p.message for p in problems)
    assert "{{ n }}" in messages and "{{ label }}" in messages
    assert validate(PromptTemplateText(user="Write {{ n }} {{ label_name }} texts in {{ language }}.")) == []


def test_empty_template_and_empty_render_are_errors() -> None:
    assert errors(validate(PromptTemplateText(user="  \n")))[0].message.startswith("The user prompt is empty")
    template = PromptTemplateText(user="{% if n > 1000 %}{{ n }} {{ label }} {{ language }}{% endif %}   ")
    assert "comes out empty" in errors(validate(template))[0].message


def test_a_template_that_fails_without_examples_gets_a_warning() -> None:
    problems = validate(PromptTemplateText(user="{{ n }} {{ label }} {{ language }} like: {{ examples[0] }}"))
    assert [p.severity for p in problems] == ["warning"]
    assert "With no examples" in problems[0].message


def test_validate_with_a_real_cell(project) -> None:  # type: ignore[no-untyped-def]
    template = PromptTemplateText(user="{{ n }} {{ label }} {{ language }}: {{ examples[0] }}")
    context = context_for_cell(project, "weather", "sw", 3)  # no human examples in this cell
    assert "list object has no element 0" in errors(validate(template, context=context))[0].message


# --- the sandbox -------------------------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__['__builtins__'] }}",
    "{{ namespace.__init__.__globals__.os }}",
    "{{ label['__class__'] }}",
    "{{ label | attr('__class__') }}",
    "{% set a = '__cla' ~ 'ss__' %}{{ label | attr(a) }}",
    "{% set a = '__cla' ~ 'ss__' %}{{ label[a] }}",
    "{{ examples | map(attribute='__class__') | list }}",
    "{{ range.__self__ }}",
    "{{ other_labels[0].update({'name': 'x'}) }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends 'base.html' %}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_are_refused_with_a_clear_message(payload: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render(PromptTemplateText(user=payload + " {{ n }} {{ label }}"), sample_context())
    assert str(caught.value).startswith(NOT_ALLOWED)
    assert caught.value.__cause__ is None  # no SecurityError traceback chained to the user's message
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    problems = errors(validate(PromptTemplateText(user=payload + " {{ n }} {{ label }} {{ language }}")))
    assert any(NOT_ALLOWED in p.message for p in problems)


HUGE = [
    "{% for x in range(10**9) %}x{% endfor %}",
    "{{ range(10**9) | list }}",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% for x in [1] recursive %}{% if loop.depth < 40 %}{{ loop([1, 2]) }}{% endif %}{% endfor %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ 'x' * 10**9 }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '{:999999999}'.format(1) }}",
    "{{ ('x' * 99999).replace('x', 'x' * 99999) }}",
    "{{ ('x' * 99999) | replace('x', 'x' * 99999) }}",
    "{{ range(10000) | map('string') | join('x' * 99999) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% macro d(s, k) %}{{ d(s ~ s, k - 1) if k else s | length }}{% endmacro %}{{ d('x', 60) }}",
    "{{ ('a\n' * 50000) | indent(1000) }}",
    "{{ 10.0 ** 400 }}",
    "{{ 'x' * 99999 }}{{ 'x' * 99999 }}",
]


@pytest.mark.parametrize("payload", HUGE)
def test_huge_loops_and_sizes_are_capped(payload: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=NOT_ALLOWED):
        render(PromptTemplateText(user=payload + " {{ n }}"), sample_context())
    assert time.monotonic() - started < 5


def test_ordinary_loops_and_filters_still_work() -> None:
    template = PromptTemplateText(
        user="{% for e in examples %}{{ loop.index }}. {{ e | upper | truncate(9, true, '…', 0) }}\n{% endfor %}"
        "{{ taboo_words | join(', ') }} {{ '%-3s|' % n }} {{ '{:>4}'.format(n) }} {{ range(3) | sum }} "
        "{% set ns = namespace(count=0) %}{% for w in taboo_words %}{% set ns.count = ns.count + 1 %}{% endfor %}"
        "{{ ns.count }} {{ other_labels | map(attribute='name') | join('/') }}"
    )
    user = render(template, sample_context()).user
    assert user.splitlines()[0] == "1. MVUA ITA…"
    assert user.splitlines()[-1] == "mvua, kesho, leo 5  |    5 3 3 prices/plant disease"
