"""zh-CN first, English second: message catalogues as JSON, looked up by key.

A text that is stored or carried before it is shown (an error, a notification, a case's
description) is a :class:`Msg`: a message key and its parameters, rendered in the reader's
language when it is shown (``Msg.render(locale)`` or :func:`localize`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

#: What a message key looks like: dotted lower-case words (``cases.error.not_found``).
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)+$")
_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


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


def is_key(text: str) -> bool:
    """True when ``text`` is a message key of the catalogues (not a sentence)."""
    return bool(KEY_PATTERN.match(text)) and text in catalogue(DEFAULT_LOCALE)


@dataclass(frozen=True, slots=True)
class Msg:
    """A message key and its parameters; parameters may be ``Msg`` themselves."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        text = translate(self.key, locale)
        if not self.params:
            return text
        values = {k: localize(v, locale) for k, v in self.params.items()}
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text

    def __str__(self) -> str:
        """The zh-CN text (logs, ``str(ValueError(msg))``); pages render in the reader's."""
        return self.render(DEFAULT_LOCALE)

    def as_json(self) -> dict[str, Any]:
        """What a row stores: ``{"key": …, "params": {…}}`` (nested messages kept)."""
        return {"key": self.key, "params": {k: _jsonable(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Msg:
        params = {
            k: cls.from_json(v) if isinstance(v, Mapping) and "key" in v else v
            for k, v in dict(data.get("params") or {}).items()
        }
        return cls(str(data["key"]), params)


#: How a stored message begins in a text column (see :func:`stored`).
_STORED_PREFIX = '{"key":'


def stored(msg: Msg, limit: int) -> str:
    """A message as a text column holds it: the JSON of its key and parameters, rendered in
    the reader's language by :func:`localize`; the zh-CN text when the JSON is too long."""
    text = json.dumps(msg.as_json(), ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else msg.render(DEFAULT_LOCALE)[:limit]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Msg):
        return value.as_json()
    return getattr(value, "value", value)


def pick_language(text: str, locale: str) -> str:
    """One language of a legacy ``"中文 / English"`` text (unconverted messages).

    The text is cut at the first `` / `` with Chinese before it and none after; a text
    without such a cut is returned as it is."""
    start = 0
    while (cut := text.find(" / ", start)) >= 0:
        zh, en = text[:cut], text[cut + 3 :]
        if _CJK.search(zh) and not _CJK.search(en):
            return (zh if locale == DEFAULT_LOCALE else en).strip()
        start = cut + 1
    return text


def localize(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """Any message as text in ``locale``: a ``Msg``, a stored ``{"key", "params"}`` (as a
    mapping or as the text :func:`stored` wrote), a legacy bilingual text (one half is kept)
    or a plain value."""
    if isinstance(value, Msg):
        return value.render(locale)
    if isinstance(value, Mapping) and "key" in value:
        return Msg.from_json(value).render(locale)
    if isinstance(value, Mapping) and DEFAULT_LOCALE in value:  # data named in each language
        return str(value.get(locale) or value[DEFAULT_LOCALE])
    if isinstance(value, str) and value.startswith(_STORED_PREFIX):
        try:
            return Msg.from_json(json.loads(value)).render(locale)
        except (ValueError, KeyError, TypeError, AttributeError):
            return value
    if isinstance(value, str):
        return pick_language(value, locale)
    return str(getattr(value, "value", value))


def accepted_locale(header: str | None) -> str | None:
    """The first supported locale of an ``Accept-Language`` header, if any."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return None
