"""Which parts of an encoder stay frozen while it is fine-tuned.

Freezing the word embeddings skips the optimiser's work on the largest matrix. Freezing the lowest transformer
layers as well (with the rest of the embeddings) also ends the backward pass early: with 6 of e5-small's 12 layers
frozen a step takes about two thirds of the time. Frozen layers run without dropout: they are a fixed feature
extractor, so the layers above see the same features for a text in every epoch.
"""

from __future__ import annotations

from typing import Any


def transformer_layers(model: Any) -> list[Any]:
    """The encoder's stack of transformer layers (BERT, XLM-R, DistilBERT, DeBERTa...: the first module list
    as long as `num_hidden_layers`), lowest first; empty when it cannot be found."""
    import torch

    count = getattr(model.config, "num_hidden_layers", None)
    for module in model.base_model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return list(module)
    return []


def automatic_frozen_layers(model: Any, device: str) -> int:
    """Half of the layers on a CPU (where the backward pass is the cost), none on a GPU."""
    return len(transformer_layers(model)) // 2 if device == "cpu" else 0


def freeze(model: Any, *, word_embeddings: bool, lowest_layers: int) -> list[Any]:
    """Freeze what was asked; returns the frozen modules that must stay in eval mode (no dropout) in training."""
    if word_embeddings or lowest_layers:
        model.get_input_embeddings().weight.requires_grad_(False)
    if not lowest_layers:
        return []
    layers = transformer_layers(model)
    if not layers:
        raise ValueError("its transformer layers could not be found, so none can be frozen (set frozen layers to 0)")
    if lowest_layers >= len(layers):
        raise ValueError(f"it has {len(layers)} transformer layers: freeze fewer than that, or use the linear probe")
    embeddings = model.get_input_embeddings()
    frozen = [_embedding_block(model, embeddings), *layers[:lowest_layers]]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def _embedding_block(model: Any, word_embeddings: Any) -> Any:
    """The module holding word, position and type embeddings and their LayerNorm (`embeddings` in BERT-likes):
    with any of its parameters trainable the backward pass would run through every frozen layer to reach it."""
    for module in model.base_model.children():
        if any(child is word_embeddings for child in module.modules()):
            return module
    return word_embeddings


def keep_frozen_in_eval(frozen: list[Any]) -> None:
    for module in frozen:
        module.eval()
