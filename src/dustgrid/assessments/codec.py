"""Facts to JSON and back (pure), so a stored score can be re-scored from the very facts
it was computed from (an appeal on a closed month changes nothing else)."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Union, get_args, get_origin, get_type_hints

from dustgrid.assessments.months import Month


def encode(value: Any) -> Any:
    """Dataclasses to dicts, instants and days to ISO text, months to ``YYYY-MM``."""
    if isinstance(value, Month):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(tp: Any, value: Any) -> Any:
    """The inverse of :func:`encode` for a value of type ``tp``."""
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return decode(inner[0], value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    if tp is date:
        return date.fromisoformat(value)
    if tp is Month:
        return Month.parse(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        # a field added since the facts were stored takes its default (facts of an older
        # rule set still decode, so their month can be appealed)
        hints = get_type_hints(tp)
        return tp(**{f.name: decode(hints[f.name], value[f.name])
                     for f in dataclasses.fields(tp) if f.name in value})  # fmt: skip
    if origin in (list, tuple, Sequence):
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(decode(a, v) for a, v in zip(args, value, strict=True))
        return tuple(decode(args[0] if args else Any, v) for v in value)
    return value
