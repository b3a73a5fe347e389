"""Near-duplicate groups as the curator sees them: a representative with the samples flagged as its repeats."""

from __future__ import annotations

from dataclasses import dataclass

from core.curation.sample_actions import BulkResult, bulk_change
from core.store.database import Store
from core.store.flags import repeat_group_members, repeat_group_sizes
from core.store.samples import Sample, SampleFilter, get_sample, iter_samples

REPEAT_KINDS = ("exact_duplicate", "near_duplicate")


@dataclass(frozen=True)
class GroupMember:
    sample: Sample
    kind: str
    similarity: float  # 1.0 for exact repeats


@dataclass(frozen=True)
class DuplicateGroup:
    representative: Sample
    members: list[GroupMember]


@dataclass(frozen=True)
class GroupPage:
    groups: list[DuplicateGroup]
    total: int  # groups in the project
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _representatives(store: Store, project_id: int) -> list[int]:
    """Representatives in order of group size (largest first), then id."""
    sizes = repeat_group_sizes(store, project_id, REPEAT_KINDS)
    return [size.representative for size in sorted(sizes, key=lambda c: (-c.repeats, c.representative))]


def duplicate_groups(store: Store, project_id: int, page: int = 1, page_size: int = 10) -> GroupPage:
    representatives = _representatives(store, project_id)
    pages = max(1, -(-len(representatives) // page_size))
    page = max(1, min(page, pages))
    groups = []
    for rep_id in representatives[(page - 1) * page_size : page * page_size]:
        representative = get_sample(store, rep_id)
        if representative is None:
            continue
        members = []
        member_ids = repeat_group_members(store, project_id, REPEAT_KINDS, rep_id)
        for member_id in dict.fromkeys(member_ids):
            sample = get_sample(store, member_id)
            if sample is None:
                continue
            flag = next(f for f in sample.flags if f.kind in REPEAT_KINDS)
            members.append(GroupMember(sample, flag.kind, float(flag.details.get("similarity", 1.0))))
        members.sort(key=lambda m: -m.similarity)
        groups.append(DuplicateGroup(representative, members))
    return GroupPage(groups=groups, total=len(representatives), page=page, page_size=page_size)


def keep_one_per_group(store: Store, project_id: int) -> BulkResult:
    """Reject every flagged repeat that nobody accepted, keeping each group's representative. Repeats a person
    accepted stay as they are (a decision is not overruled by a filter). One bulk action: it can be undone."""
    flt = SampleFilter(flags=REPEAT_KINDS, statuses=("pending", "unlabeled"))
    ids = [s.id for s in iter_samples(store, project_id, flt)]
    if not ids:
        return BulkResult(batch=None, action="reject", changed=0)
    return bulk_change(store, project_id, "reject", ids=ids)
