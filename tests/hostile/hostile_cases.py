"""Every hostile case, by family (each family's module says what it covers)."""

from __future__ import annotations

import hostile_cases_code
import hostile_cases_git
import hostile_cases_loosen
import hostile_cases_memory
import hostile_cases_secrets
import hostile_cases_state
from hostile_kit import Case

FAMILIES: dict[str, list[Case]] = {
    "code": hostile_cases_code.CASES,
    "secrets": hostile_cases_secrets.CASES,
    "loosen": hostile_cases_loosen.CASES,
    "memory": hostile_cases_memory.CASES,
    "git": hostile_cases_git.CASES,
    "state": hostile_cases_state.CASES,
}
ALL_CASES: list[Case] = [case for cases in FAMILIES.values() for case in cases]
assert len({case.id for case in ALL_CASES}) == len(ALL_CASES), "case ids must be unique"
