"""The front door: one module per area that pages, components and the CLI call.

Every function takes the acting user (`Actor`) first, so that permissions can be checked here, in one place, and
returns dataclasses, never raw dictionaries. Nothing behind the door is imported by the UI directly.

Types (dataclasses, constants) and pure helpers that touch neither the store nor the machine (`parse_spec`,
`time_ago`, `estimate`...) are re-exported as they are, without an actor. The UI imports only core.front.*,
core.errors, core.language_names and core.settings (tests/test_front_door.py checks it).
"""
