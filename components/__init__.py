"""Reusable Streamlit widgets and page helpers. Pages stay thin: read state, call core, render with these."""
