"""Models: where weights come from, and the bundled offline encoder."""
