"""Tallies of samples (table sample_tallies, migration 0015): how many samples of a project there are per block of ids
and status, language, label, split, origin and "flagged", kept exact by the database's triggers in the transaction of
every write; and of flags (flag_tallies, migration 0016): how many samples carry a flag of a kind, per kind and the
same key without "flagged". A queue's length is a sum of tallies; a sample's place in it, the tallies of the blocks
before its own plus a count on an index inside its block (at most 2**BLOCK_BITS ids): a few milliseconds, however
large the project.

A filter with one flag kind by name is a sum of that kind's tallies (plus the samples without a flag, with "none":
the two never overlap). Filters the tallies cannot answer (a text search, several flag kinds by name: a sample may
carry both) are counted on the indexes instead (core/store/samples.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, false, func, select, true
from sqlalchemy.orm import Session

from core.store.schema import FlagTallyRow, SampleTallyRow

if TYPE_CHECKING:
    from core.store.samples import SampleFilter

BLOCK_BITS = 15  # the triggers' `id >> 15` (migration 0015): a block holds 32,768 ids
_TALLY_TRIGGER = "samples_tally_insert"  # SQLite: the row trigger an import of many rows replaces by one GROUP BY


def block_of(sample_id: int) -> int:
    return sample_id >> BLOCK_BITS


def first_id_of(block: int) -> int:
    return block << BLOCK_BITS


def answers(flt: SampleFilter) -> bool:
    """Whether the tallies count this filter exactly: everything but a text search and several flag kinds by name
    (without "any", which holds them all)."""
    return not flt.search.strip() and (len(flt.flag_kinds) <= 1 or "any" in flt.flags)


def named_kind(flt: SampleFilter) -> str | None:
    """The one flag kind by name the filter keeps samples by, when it is counted from that kind's tallies (None:
    "any" or no kind by name, the samples' own `flagged` says it)."""
    return flt.flag_kinds[0] if len(flt.flag_kinds) == 1 and "any" not in flt.flags else None


def flagged_condition(flags: tuple[str, ...], column: Any) -> ColumnElement[bool] | None:
    """The flags "any" and "none" as a condition on a `flagged` column (None: no condition)."""
    any_, none = "any" in flags, "none" in flags
    if any_ == none:
        return None
    condition: ColumnElement[bool] = column == true() if any_ else column == false()
    return condition


_Tally = type[SampleTallyRow] | type[FlagTallyRow]


def _conditions(tally: _Tally, project_id: int, flt: SampleFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [tally.project_id == project_id]
    for column, values in (
        (tally.status, flt.statuses),
        (tally.language, flt.languages),
        (tally.label, flt.labels),  # "" is "no label" in both
        (tally.split, flt.splits),
        (tally.origin, flt.origins),
    ):
        if values:
            conditions.append(column.in_(values))
    return conditions


def _sources(project_id: int, flt: SampleFilter) -> list[tuple[_Tally, list[ColumnElement[bool]]]]:
    """The tallies whose sums make the filter's count (`answers(flt)` must hold), each with its conditions: the
    sample tallies; or one kind's flag tallies, plus the sample tallies of the samples without a flag with "none"."""
    kind = named_kind(flt)
    if kind is None:
        conditions = _conditions(SampleTallyRow, project_id, flt)
        flagged = flagged_condition(flt.flags, SampleTallyRow.flagged)
        return [(SampleTallyRow, conditions + ([flagged] if flagged is not None else []))]
    sources: list[tuple[_Tally, list[ColumnElement[bool]]]] = [
        (FlagTallyRow, [*_conditions(FlagTallyRow, project_id, flt), FlagTallyRow.kind == kind])
    ]
    if "none" in flt.flags:
        sources.append(
            (SampleTallyRow, [*_conditions(SampleTallyRow, project_id, flt), SampleTallyRow.flagged == false()])
        )
    return sources


def tally_count(session: Session, project_id: int, flt: SampleFilter, *, before_block: int | None = None) -> int:
    """Samples the filter keeps (`answers(flt)` must hold), in the blocks before `before_block` when given."""
    found = 0
    for tally, conditions in _sources(project_id, flt):
        if before_block is not None:
            conditions = [*conditions, tally.block < before_block]
        found += int(session.scalar(select(func.coalesce(func.sum(tally.n), 0)).where(*conditions)) or 0)
    return found


def tally_split(session: Session, project_id: int, flt: SampleFilter, block: int) -> tuple[int, int]:
    """(samples the filter keeps in the blocks before `block`, all of them), in one query per tally."""
    earlier_in_all, in_all = 0, 0
    for tally, conditions in _sources(project_id, flt):
        earlier = case((tally.block < block, tally.n), else_=0)
        query = select(func.coalesce(func.sum(earlier), 0), func.coalesce(func.sum(tally.n), 0))
        row = session.execute(query.where(*conditions)).one()
        earlier_in_all, in_all = earlier_in_all + int(row[0] or 0), in_all + int(row[1] or 0)
    return earlier_in_all, in_all


def tally_groups(session: Session, project_id: int, flt: SampleFilter) -> list[tuple[str, str | None, str, int]]:
    """(language, label or None, status, samples) for the filter (`answers(flt)` must hold), none empty."""
    groups: dict[tuple[str, str, str], int] = {}
    for tally, conditions in _sources(project_id, flt):
        query = (
            select(tally.language, tally.label, tally.status, func.sum(tally.n))
            .where(*conditions)
            .group_by(tally.language, tally.label, tally.status)
        )
        for lang, label, status, n in session.execute(query):
            groups[(lang, label, status)] = groups.get((lang, label, status), 0) + int(n or 0)
    return [(lang, label or None, status, n) for (lang, label, status), n in groups.items() if n]


def has_tallied_samples(session: Session, project_id: int) -> bool:
    tally = SampleTallyRow
    return session.scalar(select(tally.id).where(tally.project_id == project_id, tally.n != 0).limit(1)) is not None


# --- SQLite: an import of many rows tallies them with one GROUP BY instead of a trigger per row --------------------


@contextmanager
def sqlite_tallied_after(raw: Any, rows: int, minimum: int) -> Iterator[None]:
    """Around an insert of `rows` samples on SQLite's own connection `raw`, in its transaction: at
    least `minimum` rows, and the samples' insert trigger is dropped first, the new rows (the ids above the largest
    one before) tallied in one GROUP BY after, and the trigger made again from its stored definition. A failure
    rolls all of it back with the rows. Smaller inserts keep the trigger."""
    found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_TALLY_TRIGGER,))
    definition = found.fetchone()
    if rows < minimum or definition is None:
        yield
        return
    (before,) = raw.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()
    raw.execute(f"DROP TRIGGER {_TALLY_TRIGGER}")
    yield
    grouped = raw.execute(
        f"SELECT project_id, id >> {BLOCK_BITS}, status, language, coalesce(label, ''), split, origin, flagged, "
        "count(*) FROM samples WHERE id > ? GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
        (before,),
    ).fetchall()
    key = "project_id = ? AND block = ? AND status = ? AND language = ? AND label = ? AND split = ? AND origin = ? "
    for *values, n in grouped:
        changed = raw.execute(f"UPDATE sample_tallies SET n = n + ? WHERE {key} AND flagged = ?", (n, *values))
        if changed.rowcount == 0:
            raw.execute(
                "INSERT INTO sample_tallies (project_id, block, status, language, label, split, origin, flagged, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, n),
            )
    raw.execute(definition[0])
