"""The trainers' parameters: defaults a page can show, with a label and one line of help each, and validation.

An empty `encoder` / `base_model` means the project's encoder (filled in when a run is started). A page shows the
choices in words (the model, the fine-tuning effort, the time allowed, the blend) and folds every number under
"advanced"; an effort (quick / balanced / thorough) is a set of advanced values (`effort_values`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from core.errors import InvalidInput

TRAINER_KINDS = ("linear", "finetune", "hybrid", "setfit")


BLEND_KINDS = ("linear", "hybrid", "none")
AUTO_FROZEN_LAYERS = -1
TIME_LIMITS = (0.0, 5.0, 15.0, 30.0, 60.0, 120.0, 240.0)  # the page's choices of "time allowed", in minutes (0: none)

# Fine-tuning efforts: the advanced values each one sets (the rest keep their defaults). "balanced" is the defaults.
EFFORTS: dict[str, dict[str, Any]] = {
    "quick": {"epochs": 1.0, "evaluations_per_epoch": 1, "frozen_layers": AUTO_FROZEN_LAYERS},
    "balanced": {},
    "thorough": {"epochs": 4.0, "patience": 3, "frozen_layers": 0},
}
EFFORT_WORDS = {
    "quick": "Quick: one pass over the samples; on a CPU the lower half of the model stays as it is",
    "balanced": "Balanced: two passes over the samples (the default)",
    "thorough": "Thorough: up to four passes, every layer adapts (stops early when it no longer improves)",
}
DEFAULT_EFFORT = "balanced"


def _help(text: str, default: Any, *, label: str = "", advanced: bool = False, choices: tuple[Any, ...] = ()) -> Any:
    return field(default=default, metadata={"help": text, "label": label, "advanced": advanced, "choices": choices})


@dataclass(frozen=True)
class LinearParams:
    encoder: str = _help(
        "sentence encoder (hub id, folder or bundled:...); empty: the project's", default="", label="Sentence encoder"
    )
    c: float = _help(
        "inverse regularisation strength of the logistic regression (higher: fits the samples more closely)",
        default=3.0,
        label="Regularisation C",
        advanced=True,
    )
    max_iter: int = _help("iterations of the solver", default=2000, label="Solver iterations", advanced=True)
    validation_fraction: float = _help(
        "share of the snapshot held out to report validation scores per language (0: none)",
        default=0.0,
        label="Validation share",
        advanced=True,
    )
    per_language_models: bool = _help(
        "one classifier per language, with one over all languages for the rest (better where each language has "
        "its own surface cues, e.g. intents; needs enough samples in each language)",
        default=False,
        label="One model per language",
        advanced=True,
    )
    seed: int = _help("random seed (validation split)", default=0, label="Random seed", advanced=True)


@dataclass(frozen=True)
class HybridParams:
    encoder: str = _help(
        "sentence encoder (hub id, folder or bundled:...); empty: the project's", default="", label="Sentence encoder"
    )
    c: float = _help(
        "inverse regularisation strength of the logistic regression (higher: fits the samples more closely)",
        default=10.0,
        label="Regularisation C",
        advanced=True,
    )
    ngram_min: int = _help("shortest character n-gram", default=1, label="Shortest n-gram", advanced=True)
    ngram_max: int = _help("longest character n-gram", default=4, label="Longest n-gram", advanced=True)
    max_features: int = _help(
        "most character n-grams kept (the most frequent)", default=300_000, label="Most n-grams", advanced=True
    )
    min_df: int = _help(
        "an n-gram must appear in at least this many texts", default=2, label="Least texts per n-gram", advanced=True
    )
    embedding_weight: float = _help(
        "weight of the sentence-embedding block", default=1.0, label="Embedding weight", advanced=True
    )
    char_weight: float = _help(
        "weight of the character n-gram block", default=1.0, label="N-gram weight", advanced=True
    )
    max_iter: int = _help("iterations of the solver", default=2000, label="Solver iterations", advanced=True)
    validation_fraction: float = _help(
        "share of the snapshot held out to report validation scores per language (0: none)",
        default=0.0,
        label="Validation share",
        advanced=True,
    )
    per_language_models: bool = _help(
        "one classifier per language, with one over all languages for the rest (better where each language has "
        "its own surface cues, e.g. intents; needs enough samples in each language)",
        default=False,
        label="One model per language",
        advanced=True,
    )
    seed: int = _help("random seed (validation split)", default=0, label="Random seed", advanced=True)


@dataclass(frozen=True)
class FinetuneParams:
    base_model: str = _help(
        "encoder to fine-tune (hub id or folder); empty: the project's", default="", label="Model to fine-tune"
    )
    learning_rate: float = _help(
        "peak learning rate (linear warm-up, then linear decay)", default=8e-5, label="Learning rate", advanced=True
    )
    epochs: float = _help("passes over the training samples", default=2.0, label="Epochs", advanced=True)
    batch_size: int = _help("samples per step", default=32, label="Batch size", advanced=True)
    max_length: int = _help(
        "longest input in tokens (longer texts are cut)", default=128, label="Longest input (tokens)", advanced=True
    )
    validation_fraction: float = _help(
        "share held out for early stopping and validation scores", default=0.1, label="Validation share", advanced=True
    )
    evaluations_per_epoch: int = _help(
        "validation checks per epoch", default=2, label="Validation checks per epoch", advanced=True
    )
    patience: int = _help(
        "stop after this many checks without a better validation score", default=2, label="Patience", advanced=True
    )
    freeze_embeddings: bool = _help(
        "keep the word embeddings as they are (about twice as fast on a CPU)",
        default=True,
        label="Freeze the word embeddings",
        advanced=True,
    )
    frozen_layers: int = _help(
        "also freeze the lowest N transformer layers: faster (with 6 of 12 frozen a step takes about 2/3 of the "
        "time), the layers above still adapt; -1: automatic (half of the layers on a CPU, none on a GPU or when "
        "the word embeddings are trained)",
        default=AUTO_FROZEN_LAYERS,
        label="Frozen layers (-1: automatic)",
        advanced=True,
    )
    blend_with: str = _help(
        "average the fine-tuned model's probabilities with a linear probe (or the hybrid) on the encoder's "
        "sentence embeddings: the two make different mistakes; none: the fine-tuned model alone",
        default="linear",
        label="Blend with",
        choices=BLEND_KINDS,
    )
    blend_weight: float = _help(
        "weight of the fine-tuned model in the blend", default=0.5, label="Blend weight", advanced=True
    )
    blend_encoder: str = _help(
        "sentence encoder of the blended probe (hub id, folder or bundled:...); empty: the project's",
        default="",
        label="Encoder of the blended probe",
        advanced=True,
    )
    warmup_fraction: float = _help(
        "share of the steps spent warming the learning rate up", default=0.1, label="Warm-up share", advanced=True
    )
    weight_decay: float = _help("AdamW weight decay", default=0.01, label="Weight decay", advanced=True)
    time_limit_minutes: float = _help(
        "stop training after this long; the best model so far is kept",
        default=0.0,
        label="Time allowed",
        choices=TIME_LIMITS,
    )
    seed: int = _help("random seed (split, order, initialisation)", default=0, label="Random seed", advanced=True)


@dataclass(frozen=True)
class SetFitParams:
    """SetFit (Tunstall et al. 2022): the sentence encoder tuned on pairs of samples (same label: close, different
    labels: apart), then a logistic regression on its sentence embeddings."""

    base_model: str = _help(
        "sentence encoder to tune (hub id or folder); empty: the project's", default="", label="Model to tune"
    )
    pairs_per_sample: int = _help(
        "contrastive pairs drawn per training sample (half of a label, half of another); more pairs: longer, "
        "usually better with few samples",
        default=2,
        label="Pairs per sample",
        advanced=True,
    )
    max_pairs: int = _help(
        "at most this many pairs in all (bounds the time with many samples)",
        default=2000,
        label="Most pairs",
        advanced=True,
    )
    epochs: int = _help("passes over the pairs", default=1, label="Epochs", advanced=True)
    batch_size: int = _help("pairs per step", default=16, label="Batch size", advanced=True)
    learning_rate: float = _help(
        "peak learning rate of the encoder (linear warm-up, then decay)",
        default=2e-5,
        label="Learning rate",
        advanced=True,
    )
    max_length: int = _help(
        "longest input in tokens (longer texts are cut)", default=128, label="Longest input (tokens)", advanced=True
    )
    freeze_embeddings: bool = _help(
        "keep the word embeddings as they are (faster on a CPU)",
        default=True,
        label="Freeze the word embeddings",
        advanced=True,
    )
    frozen_layers: int = _help(
        "also freeze the lowest N transformer layers (faster); -1: automatic (half of the layers on a CPU, none on "
        "a GPU)",
        default=AUTO_FROZEN_LAYERS,
        label="Frozen layers (-1: automatic)",
        advanced=True,
    )
    c: float = _help(
        "inverse regularisation strength of the logistic regression head",
        default=3.0,
        label="Regularisation C",
        advanced=True,
    )
    validation_fraction: float = _help(
        "share held out to report validation scores (0: none)", default=0.1, label="Validation share", advanced=True
    )
    time_limit_minutes: float = _help(
        "stop tuning the encoder after this long; the head is then fitted on what it has become",
        default=0.0,
        label="Time allowed",
        choices=TIME_LIMITS,
    )
    seed: int = _help("random seed (split, pairs, order)", default=0, label="Random seed", advanced=True)


TrainerParams = LinearParams | HybridParams | FinetuneParams | SetFitParams
TunedParams = FinetuneParams | SetFitParams  # trainers that change the encoder itself (`base_model`)
ParamsT = TypeVar("ParamsT", LinearParams, HybridParams, FinetuneParams, SetFitParams)
PARAM_CLASSES: dict[str, type[Any]] = {
    "linear": LinearParams,
    "hybrid": HybridParams,
    "finetune": FinetuneParams,
    "setfit": SetFitParams,
}


def params_class(kind: str) -> type[Any]:
    if kind not in PARAM_CLASSES:
        raise InvalidInput(f"Unknown trainer '{kind}': use one of {', '.join(TRAINER_KINDS)}.")
    return PARAM_CLASSES[kind]


def parse_params(kind: str, values: dict[str, Any] | None = None) -> TrainerParams:
    """Parameters for `kind` from a dict (unknown names refused, types converted, ranges checked)."""
    cls = params_class(kind)
    values = dict(values or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidInput(
            f"The {kind} trainer has no parameter {', '.join(unknown)}. Its parameters: {', '.join(known)}."
        )
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        kind_of: type[Any] = type(known[name].default)
        try:
            if kind_of is bool and isinstance(value, str):
                converted[name] = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                converted[name] = kind_of(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"The parameter {name} must be a {kind_of.__name__}, not '{value}'.") from None
    params = cls(**converted)
    check_ranges(params)
    return params


def check_ranges(params: TrainerParams) -> None:
    problems = []
    if not 0 <= params.validation_fraction < 0.9:
        problems.append("the validation fraction must be between 0 and 0.9")
    if isinstance(params, LinearParams | HybridParams) and (params.c <= 0 or params.max_iter < 1):
        problems.append("C and the iterations must be positive")
    if isinstance(params, HybridParams):
        if not 1 <= params.ngram_min <= params.ngram_max <= 8:
            problems.append("the n-gram lengths must satisfy 1 <= min <= max <= 8")
        if params.max_features < 1 or params.min_df < 1:
            problems.append("max features and min df must be at least 1")
        if params.embedding_weight < 0 or params.char_weight < 0 or params.embedding_weight + params.char_weight <= 0:
            problems.append("the block weights must be non-negative and not both 0")
    if isinstance(params, FinetuneParams):
        if params.learning_rate <= 0 or params.epochs <= 0 or params.batch_size < 1:
            problems.append("the learning rate, epochs and batch size must be positive")
        if not 8 <= params.max_length <= 8192:
            problems.append("the max length must be between 8 and 8192 tokens")
        if params.frozen_layers < AUTO_FROZEN_LAYERS:
            problems.append("the number of frozen layers must be 0 or more (or -1: automatic)")
        if params.blend_with not in BLEND_KINDS:
            problems.append(f"blend with must be one of {', '.join(BLEND_KINDS)}")
        if not 0 < params.blend_weight <= 1:
            problems.append("the blend weight must be above 0 and at most 1")
        if params.evaluations_per_epoch < 1 or params.patience < 1:
            problems.append("validation checks per epoch and patience must be at least 1")
        if params.time_limit_minutes < 0 or not 0 <= params.warmup_fraction < 1:
            problems.append("the time limit must be >= 0 and the warm-up fraction below 1")
    if isinstance(params, SetFitParams):
        if params.learning_rate <= 0 or params.epochs < 1 or params.batch_size < 1:
            problems.append("the learning rate, epochs and batch size must be positive")
        if params.pairs_per_sample < 1 or params.max_pairs < 2:
            problems.append("pairs per sample must be at least 1 and most pairs at least 2")
        if not 8 <= params.max_length <= 8192:
            problems.append("the max length must be between 8 and 8192 tokens")
        if params.c <= 0 or params.time_limit_minutes < 0:
            problems.append("C must be positive and the time limit at least 0")
        if params.frozen_layers < AUTO_FROZEN_LAYERS:
            problems.append("the number of frozen layers must be 0 or more (or -1: automatic)")
    if problems:
        raise InvalidInput("Invalid training parameters: " + "; ".join(problems) + ".")


def params_dict(params: TrainerParams) -> dict[str, Any]:
    return asdict(params)


def effort_values(kind: str, effort: str | None) -> dict[str, Any]:
    """The parameter values an effort sets (only the fine-tuning trainer has efforts; none: the defaults)."""
    if effort is None or kind != "finetune":
        return {}
    if effort not in EFFORTS:
        raise InvalidInput(f"Unknown effort '{effort}': use one of {', '.join(EFFORTS)}.")
    return dict(EFFORTS[effort])


@dataclass(frozen=True)
class ParamField:
    """One field of a trainer's form."""

    name: str
    label: str
    default: Any  # the effort's value where it sets one
    help: str
    advanced: bool  # belongs in the folded "Advanced options"
    choices: list[Any]  # a field picked from a list; [] for a free one


def param_fields(kind: str, effort: str | None = None) -> list[ParamField]:
    """The fields of a trainer's form, in order."""
    preset = effort_values(kind, effort)
    return [
        ParamField(
            name=f.name,
            label=f.metadata.get("label") or f.name.replace("_", " ").capitalize(),
            default=preset.get(f.name, f.default),
            help=f.metadata.get("help", ""),
            advanced=bool(f.metadata.get("advanced")),
            choices=list(f.metadata.get("choices", ())),
        )
        for f in fields(params_class(kind))
    ]


def param_help(kind: str, effort: str | None = None) -> list[dict[str, Any]]:
    """For a form: name, label, default (the effort's value where it sets one), help text, whether it belongs in
    the folded 'advanced' part and the choices of a field picked from a list."""
    return [asdict(spec) for spec in param_fields(kind, effort)]


def minutes_words(minutes: float) -> str:
    """A time allowed in words: 'no limit', '15 minutes', '1 hour', '4 hours'."""
    if minutes <= 0:
        return "no limit"
    if minutes < 60:
        return f"{minutes:g} minutes" if minutes != 1 else "1 minute"
    hours = minutes / 60
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def saved_params(kind: str, values: dict[str, Any]) -> TrainerParams:
    """Parameters read back from a saved model (names a newer studio no longer knows are ignored)."""
    params: TrainerParams = saved_params_of(params_class(kind), values)
    return params


def saved_params_of(cls: type[ParamsT], values: dict[str, Any]) -> ParamsT:
    """`saved_params` for a known parameter class."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
