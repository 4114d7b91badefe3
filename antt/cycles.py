"""Reporting cycles (`2026-H1`, `2026-Y`) resolved from `config/cycles.yaml` into concrete instants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from antt.config import Cycles, MonthDay
from antt.errors import AnttError

_CYCLE_ID = re.compile(r"(?P<year>20\d\d)-(?P<kind>[A-Z][A-Z0-9]*)")  # fullmatch: "2026-H1\n" names no cycle


@dataclass(frozen=True)
class Cycle:
    """One reporting cycle. Instants are timezone-aware in the office's zone; `closes_at` is exclusive and
    a submission at or after `deadline_at` (which includes the grace days) is late."""

    id: str
    kind: str
    year: int
    label: str
    provisional: bool
    period_start: date
    period_end: date
    opens_at: datetime
    deadline_at: datetime
    closes_at: datetime
    report_due: date
    timezone: str

    @property
    def school_deadline(self) -> date:
        """The date schools are told: submit before this day."""
        return self.deadline_at.date()


def _on(year: int, md: MonthDay) -> date:
    return date(year + md.year_offset, md.month, md.day)


def resolve_cycle(cycle_id: str, cycles: Cycles) -> Cycle:
    """`2026-H1` → the cycle's dates. Raises AnttError for an id that names no configured cycle kind."""
    m = _CYCLE_ID.fullmatch(cycle_id or "")
    if not m or m["kind"] not in cycles.kinds:
        kinds = ", ".join(f"YYYY-{k}" for k in cycles.kinds)
        raise AnttError(f"unknown cycle {cycle_id!r}: expected one of {kinds} (for example 2026-H1)")
    year, kind = int(m["year"]), m["kind"]
    spec = cycles.kinds[kind]
    tz = ZoneInfo(cycles.timezone)

    def midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=tz)

    deadline = midnight(_on(year, spec.deadline)) + timedelta(days=cycles.grace_days)
    return Cycle(
        id=cycle_id, kind=kind, year=year, label=spec.label, provisional=spec.provisional,
        period_start=_on(year, spec.period_start), period_end=_on(year, spec.period_end),
        opens_at=midnight(_on(year, spec.opens)), deadline_at=deadline,
        closes_at=midnight(_on(year, spec.closes) + timedelta(days=1)),
        report_due=_on(year, spec.report_due), timezone=cycles.timezone,
    )


def previous_cycle_id(cycle: Cycle, cycles: Cycles) -> str:
    """The cycle reported just before this one (2026-Y → 2026-H1, 2026-H1 → 2025-Y)."""
    order = sorted(cycles.kinds, key=lambda k: (cycles.kinds[k].deadline.month, cycles.kinds[k].deadline.day))
    i = order.index(cycle.kind)
    return f"{cycle.year}-{order[i - 1]}" if i > 0 else f"{cycle.year - 1}-{order[-1]}"
