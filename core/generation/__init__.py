"""Generating labelled samples with LLMs: prompts, backends, the engine."""
