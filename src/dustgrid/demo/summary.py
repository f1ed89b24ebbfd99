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
        """Multi-line zh/en text: counts, the districts, one login per role, policy notes."""
        out = [
            f"演示城市已生成 / demo city loaded (seed {self.seed}, "
            f"reference date {self.reference_date.isoformat()}, {self.seconds:.1f} s)",
            f"  区 districts {len(self.districts)} · 组织单位 units {self.units} · "
            f"企业 enterprises {self.enterprises} · 工地 sites {self.sites} · "
            f"账号 users {self.users}",
            f"  执法监督网格 enforcement grids {self.enforcement_grids} · "
            f"专职巡查网格 inspector grids {self.inspector_grids}",
            "",
            "  " + _pad("区 district", 40) + "工地 sites  执法网格 enf.  巡查网格 insp.",
        ]
        for d in self.districts:
            label = _pad(f"{d.name} {d.name_en} ({d.code})", 40)
            out.append(f"  {label}{d.sites:>10}{d.enforcement_grids:>15}{d.inspector_grids:>16}")
        out += ["", "演示账号 / demo logins (one per role):"]
        for login in self.logins:
            zh, en = ROLE_LABELS[login.role]
            out.append(f"  {login.username:<20} {zh} / {en}")
            out.append(f"  {'':<20}   {login.sees_zh} / {login.sees_en}")
        if self.notes:
            out += ["", "说明 / notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(out)


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, counting Chinese characters as two columns."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - cols)
