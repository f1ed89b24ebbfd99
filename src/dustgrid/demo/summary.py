"""What a demo load produced and how to log in: the text ``dustgrid demo`` prints."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from dustgrid.identity.roles import ROLE_LABELS, Role


@dataclass
class DistrictReport:
    code: str
    name: str
    name_en: str
    sites: int
    enforcement_grids: int
    inspector_grids: int


@dataclass
class DemoLogin:
    username: str
    role: Role
    sees_zh: str
    sees_en: str


@dataclass
class DemoSummary:
    """What was loaded and how to log in; ``describe()`` is what the CLI prints."""

    seed: int
    reference_date: date
    sites: int
    units: int
    enterprises: int
    users: int
    districts: list[DistrictReport] = field(default_factory=list)
    logins: list[DemoLogin] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def enforcement_grids(self) -> int:
        return sum(d.enforcement_grids for d in self.districts)

    @property
    def inspector_grids(self) -> int:
        return sum(d.inspector_grids for d in self.districts)

    def describe(self) -> str:
        """Multi-line text for the CLI (English, like every CLI message): counts, the
        districts (named in both languages: data), one login per role, policy notes."""
        out = [
            f"Demo city loaded (seed {self.seed}, "
            f"reference date {self.reference_date.isoformat()}, {self.seconds:.1f} s)",
            f"  districts {len(self.districts)} · units {self.units} · "
            f"enterprises {self.enterprises} · sites {self.sites} · users {self.users}",
            f"  enforcement grids {self.enforcement_grids} · "
            f"inspector grids {self.inspector_grids}",
            "",
            "  " + _pad("district", 40) + "     sites     enf. grids     insp. grids",
        ]
        for d in self.districts:
            label = _pad(f"{d.name} {d.name_en} ({d.code})", 40)
            out.append(f"  {label}{d.sites:>10}{d.enforcement_grids:>15}{d.inspector_grids:>16}")
        out += ["", "Demo logins (one per role):"]
        for login in self.logins:
            out.append(f"  {login.username:<20} {ROLE_LABELS[login.role][1]}")
            out.append(f"  {'':<20}   {login.sees_en}")
        if self.notes:
            out += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(out)


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, counting Chinese characters as two columns."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - cols)
