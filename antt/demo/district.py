"""The demo district's data, read from the package's `antt/demo/data/*.yaml`: who reports (people.yaml), how each
kind of school answers (answers.yaml) and the sheet's mix of problems (mess.yaml). Validated on load, like config.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

Span = tuple[int, int]
Share = tuple[float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Model):
    middle: list[str]
    given: list[str]


class Impostor(_Model):
    role: str
    female_share: float


class UnknownSchool(_Model):
    name: str
    level: str
    email: str


class People(_Model):
    surnames: list[str]
    female: Names
    male: Names
    female_share: dict[str, float]
    roles: list[str]
    roles_beyond_kindergarten: list[str]
    phone_prefixes: list[str]
    impostor: Impostor
    unknown_school: UnknownSchool

    @model_validator(mode="after")
    def _default_share(self) -> People:
        if "other" not in self.female_share:
            raise ValueError("female_share needs an `other` entry for the levels it does not name")
        return self


class Profile(_Model):
    """How a school of one quality answers; ranges are inclusive."""

    yes_share: float
    briefed: Share
    trained: Share
    plans: Span
    sessions: Span
    forms: Span
    laws: Span
    clubs: Span
    police: Span
    budget: float
    hot_spot: float
    failures: Span


class Size(_Model):
    staff: Span
    pupils: Span


class SelfAssessment(_Model):
    met: str
    not_met: str
    poor_not_met: float


class Answers(_Model):
    qualities: list[str]
    start_shares: list[float]
    improve: dict[str, float]
    worsen: float
    profiles: dict[str, Profile]
    failures: dict[str, int]
    sizes: dict[str, Size]
    self_assessment: SelfAssessment
    difficulty_share: float
    difficulties: list[str]

    @model_validator(mode="after")
    def _one_entry_per_quality(self) -> Answers:
        named = {"start_shares": len(self.start_shares) == len(self.qualities),
                 "improve": set(self.improve) == set(self.qualities),
                 "profiles": set(self.profiles) == set(self.qualities),
                 "sizes": "other" in self.sizes}
        if not all(named.values()):
            raise ValueError(f"{', '.join(k for k, ok in named.items() if not ok)}: one entry per quality "
                             "(and sizes an `other` entry) expected")
        return self


class Mess(_Model):
    chronic_missing_share: float
    extra_missing_share: float
    roles: dict[str, int]
    padded_timestamps: int
    blank_rows: int
    not_integer: str
    late_note: str
    yes_variants: list[str]
    no_variants: list[str]


def _read(name: str) -> object:
    return yaml.safe_load((files("antt.demo") / "data" / name).read_text(encoding="utf-8"))


@cache
def people() -> People:
    return People.model_validate(_read("people.yaml"))


@cache
def answers() -> Answers:
    return Answers.model_validate(_read("answers.yaml"))


@cache
def mess() -> Mess:
    return Mess.model_validate(_read("mess.yaml"))
