"""Curation: filters that flag samples with readable reasons (they never delete), and the actions people take."""
