"""Data files shipped with DustGrid (package data, so an installed copy has them too).

``PRSA_DIR`` holds two Beijing stations' real hourly PM (CC BY 4.0; source and attribution in
``prsa/README.md``): the demo's reference stations and the simulator's city background read
it, and the alert tests check the Hebei rule on a real week of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PRSA_DIR: Final = Path(__file__).resolve().parent / "prsa"
#: The urban station: the simulator's background and the demo's national control point.
PRSA_URBAN: Final = PRSA_DIR / "Dongsi.csv"
