"""The command line, `python -m core`: one module per command group, the parser and `main` in `app`."""

from core.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
