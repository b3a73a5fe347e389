"""Training small classifiers from a frozen snapshot of curated samples: trainers, runs, curves, prediction."""
