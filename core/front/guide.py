"""The guide at the front door: where a project stands in the loop, and the one suggested next step."""

from __future__ import annotations

from core import guide
from core.front.actor import Actor
from core.front.permissions import reads
from core.guide import LoopStatus as LoopStatus
from core.guide import Step as Step
from core.guide import StepState as StepState
from core.store.projects import Project

__all__ = ["LoopStatus", "Step", "StepState", "loop_status"]


@reads
def loop_status(actor: Actor, project: Project) -> LoopStatus:
    return guide.loop_status(actor.store, project)
