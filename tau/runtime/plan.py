"""Alias of `tau.runtime.features.plan` (moved to the features room, issue #15) for front-end modules not yet
updated; import from `tau.runtime.features.plan`. Remove once nothing imports this path."""

from tau.runtime.features.plan import PlanReview, execute_plan_prompt, execution_mode

__all__ = ["PlanReview", "execute_plan_prompt", "execution_mode"]
