"""Evaluation on the human test split: scores per language, baselines, comparisons, error cells and reports."""
