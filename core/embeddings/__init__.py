"""Sentence embeddings: encoders behind one interface, and a persistent cache keyed by (model, text)."""
