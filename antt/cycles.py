"""The calendar: reporting cycles (`2026-H1`, `2026-Y`) resolved from `config/cycles.yaml` into concrete instants,
the cycle a given day belongs to, and the days of the year the scheduled runs fall on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from antt.config import Cycles, MonthDay
from antt.errors import AnttError, ConfigError
from antt.i18n import _

_CYCLE_ID = re.compile(r"(?P<year>20\d\d)-(?P<kind>[A-Z][A-Z0-9]*)")  # fullmatch: "2026-H1\n" names no cycle


@dataclass(frozen=True)
class Cycle:
    """One reporting cycle. Instants are timezone-aware in the office's zone; `closes_at` and `reply_closes_at` are
    exclusive and a submission at or after `deadline_at` (which includes the grace days) is late. Schools may reply
    to their draft scorecard from the deadline until `reply_closes_at`."""

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
    reply_closes_at: datetime
    report_due: date
    timezone: str

    @property
    def school_deadline(self) -> date:
        """The date schools are told: submit before this day."""
        return self.deadline_at.date()

    @property
    def reply_last_day(self) -> date:
        """The date schools are told: reply to the draft by the end of this day."""
        return (self.reply_closes_at - timedelta(days=1)).date()


def _on(year: int, md: MonthDay) -> date:
    return date(year + md.year_offset, md.month, md.day)


def resolve_cycle(cycle_id: str, cycles: Cycles) -> Cycle:
    """`2026-H1` → the cycle's dates. Raises AnttError for an id that names no configured cycle kind."""
    m = _CYCLE_ID.fullmatch(cycle_id or "")
    if not m or m["kind"] not in cycles.kinds:
        kinds = ", ".join(f"YYYY-{k}" for k in cycles.kinds)
        raise AnttError(_("unknown cycle {cycle!r}: expected one of {kinds} (for example 2026-H1)")
                        .format(cycle=cycle_id, kinds=kinds))
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
        reply_closes_at=midnight(_on(year, spec.reply_closes) + timedelta(days=1)),
        report_due=_on(year, spec.report_due), timezone=cycles.timezone,
    )


def previous_cycle_id(cycle: Cycle, cycles: Cycles) -> str:
    """The cycle reported just before this one (2026-Y → 2026-H1, 2026-H1 → 2025-Y)."""
    order = sorted(cycles.kinds, key=lambda k: (cycles.kinds[k].deadline.month, cycles.kinds[k].deadline.day))
    i = order.index(cycle.kind)
    return f"{cycle.year}-{order[i - 1]}" if i > 0 else f"{cycle.year - 1}-{order[-1]}"


def office_today(cycles: Cycles) -> date:
    """Today in the office's time zone."""
    return datetime.now(ZoneInfo(cycles.timezone)).date()


def cycle_on(kind: str, day: date, cycles: Cycles) -> str:
    """The cycle of `kind` a run on `day` is about: the one whose school deadline is nearest (2026-06-03 → 2026-H1;
    a reminder on 28/12 for a 5/1 deadline belongs to next year's cycle)."""
    if kind not in cycles.kinds:
        raise AnttError(_("unknown cycle kind {kind!r}: expected one of {kinds}")
                        .format(kind=kind, kinds=", ".join(cycles.kinds)))
    years = (day.year - 1, day.year, day.year + 1)
    return min((f"{y}-{kind}" for y in years),
               key=lambda cid: abs((resolve_cycle(cid, cycles).school_deadline - day).days))


def run_days(cycle: Cycle, cycles: Cycles) -> dict[str, date]:
    """The days of `cycle`'s scheduled runs (`schedule` in cycles.yaml), by slug: a reminder round `remind-<N>d` N
    days before the school deadline, the cycle run on the deadline day (which also e-mails every school its draft
    scorecard), and the `final` run (which also e-mails the report to leadership) the configured days before the
    report is due, after the reply window (config.py checks that it falls after `reply_closes`)."""
    schedule = cycles.schedule
    days = {f"remind-{n}d": cycle.school_deadline - timedelta(days=n) for n in schedule.remind_days_before_deadline}
    days["deadline"] = cycle.school_deadline
    days["final"] = cycle.report_due - timedelta(days=schedule.final_run_days_before_report_due)
    return days


@dataclass(frozen=True)
class ScheduledDay:
    """One yearly scheduled run of a cycle kind at `run_at` office time: a cron expression, or, for a day whose date
    moves in leap years, an iCalendar RRULE. `job` is "remind" or "cycle"; `final` marks the run that mails the
    report."""

    kind: str
    slug: str
    job: str
    final: bool
    cron: str | None = None
    rrule: str | None = None


# Four successive years hold every case of the leap-year rule (1901-2099): a day that falls on the same date in each
# falls on it every year.
_LEAP_CYCLE = range(2025, 2029)


def scheduled_days(cycles: Cycles, path: Path | str = "cycles.yaml") -> list[ScheduledDay]:
    """Every scheduled run of every cycle kind, each as a yearly schedule that lands on its actual day every year.
    `path` names the cycles file in the error about a day no yearly schedule can follow.

    A run N days before a configured date keeps its month and day from year to year unless the N days span
    29 February (a report due on 1/3 has its day-before run on 28/2 or 29/2): such a day keeps its place counted
    from the end of its year instead, which an RRULE (`BYYEARDAY=-n`) can say and cron cannot. Both are checked
    against the actual dates of a whole leap-year cycle.
    """
    hour, minute = (int(part) for part in cycles.schedule.run_at.split(":"))
    plan = []
    for kind in cycles.kinds:
        per_year = [run_days(resolve_cycle(f"{year}-{kind}", cycles), cycles) for year in _LEAP_CYCLE]
        for slug in per_year[0]:
            days = [year[slug] for year in per_year]
            job = "remind" if slug.startswith("remind") else "cycle"
            if len({(d.month, d.day) for d in days}) == 1:
                when = {"cron": f"{minute} {hour} {days[0].day} {days[0].month} *"}
            elif len(from_end := {(d - date(d.year + 1, 1, 1)).days for d in days}) == 1:
                when = {"rrule": f"FREQ=YEARLY;BYYEARDAY={from_end.pop()};BYHOUR={hour};BYMINUTE={minute};BYSECOND=0"}
            else:
                key = "final_run_days_before_report_due" if slug == "final" else "remind_days_before_deadline"
                raise ConfigError(_("{path}: schedule.{key}: the {slug} run of {kind} falls on {days} in successive "
                                    "years, which no yearly schedule can follow; choose fewer days")
                                  .format(path=path, key=key, slug=slug, kind=kind,
                                          days=", ".join(d.strftime("%d/%m/%Y") for d in days)))
            plan.append(ScheduledDay(kind, slug, job, final=slug == "final", **when))
    return plan
