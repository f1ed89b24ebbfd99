"""zh-CN first, English second: message catalogues as JSON, looked up by key."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


@lru_cache
def catalogue(locale: str) -> dict[str, str]:
    """All ``i18n/<locale>/*.json`` files merged (one file per domain keeps edits apart)."""
    data: dict[str, str] = {}
    for path in sorted((Path(__file__).parent / locale).glob("*.json")):
        data.update(json.loads(path.read_text(encoding="utf-8")))
    return data


def translate(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """The message for ``key``; falls back to zh-CN, then to the key itself."""
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    return catalogue(locale).get(key) or catalogue(DEFAULT_LOCALE).get(key) or key
