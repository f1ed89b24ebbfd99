"""Parsing of the ``CP=&&...&&`` command-parameter block, and HJ 212 timestamps.

Two paths give identical results:

* :func:`parse_cp_reference` - a plain loop over ``key=value`` pairs; it also produces the
  precise error messages, so every unusual input ends up here;
* a *shape plan* fast path: a device sends the same keys in the same order in every frame,
  so the classification of keys (which index is DataTime, which are values of which code,
  where each pollutant's ``-Flag`` sits) is computed once per key sequence and cached; a
  frame is then parsed with C-level ``split``/``itemgetter``/``map``/``zip`` calls and no
  Python loop per item. Anything the plan does not cover returns None and falls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import repeat
from math import isfinite
from operator import itemgetter
from typing import Final, NamedTuple

from .codes import CODE_TO_METRIC, DATA_FLAGS, DATETIME_LEN, FLAG_NORMAL, FLAG_SUFFIX, KIND_SUFFIXES
from .errors import E_CP, FieldError

DATA_TIME_KEY: Final = "DataTime"
_DATE_DIGITS: Final = 8  # yyyyMMdd part of a timestamp
_KEY_CACHE_MAX: Final = 4096  # bounds below keep hostile input from growing memory
_PLAN_CACHE_MAX: Final = 1024
_TS_CACHE_MAX: Final = 8192
_NON_SEPARATORS: Final = bytes(b for b in range(256) if b not in b"=,;")
_SEMICOLON_AS_COMMA: Final = bytes.maketrans(b";", b",")


class Item(NamedTuple):
    """One CP value: ``a34002-Rtd=85.3`` with its pollutant's ``-Flag``.

    ``metric`` is None for codes the platform does not map (kept, not dropped); ``valid`` is
    False for flags F/M/D/C/T/B (and unknown flags): such values are stored but excluded
    from averages and rules.
    """

    code: str
    metric: str | None
    kind: str
    value: float | None
    flag: str
    valid: bool


_new = tuple.__new__  # Item(...) runs a Python-level __new__; this is about 2x faster
_NORMAL: Final = (FLAG_NORMAL, True)
_FLAG_INFO: Final = {f: (f, ok) for f, ok in DATA_FLAGS.items()}
_VALIDITY: Final = DATA_FLAGS.get
_TS_CACHE: dict[str, datetime] = {}


def parse_timestamp(text: str, what: str = DATA_TIME_KEY) -> datetime:
    """``yyyyMMddHHmmss`` -> naive device-local datetime, or FieldError naming ``what``.

    Cached: thousands of devices report the same DataTime (aligned to the minute).
    """
    found = _TS_CACHE.get(text)
    if found is not None:
        return found
    if len(text) == DATETIME_LEN and text.isdigit() and text.isascii():
        try:
            value = datetime.fromisoformat(f"{text[:_DATE_DIGITS]}T{text[_DATE_DIGITS:]}")
        except ValueError:
            pass
        else:
            if len(_TS_CACHE) >= _TS_CACHE_MAX:
                _TS_CACHE.clear()
            _TS_CACHE[text] = value
            return value
    raise FieldError(f"bad {what} {text!r} (want yyyyMMddHHmmss)", code=E_CP)


def flag_info(flag: str) -> tuple[str, bool]:
    """(normalised flag, valid?) - unknown flags are kept verbatim and count as invalid."""
    info = _FLAG_INFO.get(flag)
    if info is None:
        norm = flag.strip().upper()
        known = DATA_FLAGS.get(norm)
        info = (norm, known) if known is not None else (flag, False)
    return info


_KEY_CACHE: dict[str, tuple[str, str | None, str | None]] = {}


def classify_key(key: str) -> tuple[str, str | None, str | None] | None:
    """``code-Suffix`` -> ``(code, kind, metric)`` (kind None = the ``-Flag``); None otherwise."""
    found = _KEY_CACHE.get(key)
    if found is not None:
        return found
    code, dash, suffix = key.rpartition("-")
    if not dash or not code:
        return None
    if suffix == FLAG_SUFFIX:
        spec: tuple[str, str | None, str | None] = (code, None, None)
    elif suffix in KIND_SUFFIXES:
        spec = (code, KIND_SUFFIXES[suffix], CODE_TO_METRIC.get(code))
    else:
        return None
    if len(_KEY_CACHE) < _KEY_CACHE_MAX:
        _KEY_CACHE[key] = spec
    return spec


CPResult = tuple[datetime | None, list[Item], dict[str, str]]


def parse_cp(body: str) -> CPResult:
    """Parse the inside of ``CP=&&...&&`` into (DataTime, items, other keys)."""
    if not body:
        return None, [], {}
    result = _parse_planned(body)
    return result if result is not None else parse_cp_reference(body)


def parse_cp_reference(body: str) -> CPResult:  # noqa: C901 - hot loop, one function on purpose, see docs/performance.md
    """The plain loop; defines the semantics the fast path must reproduce."""
    data_time: datetime | None = None
    extra: dict[str, str] = {}
    flags: dict[str, str] = {}
    items: list[Item] = []
    # ';' separates pollutants and ',' their fields; items are associated by code, so
    # one split over both separators is equivalent.
    for pair in body.replace(";", ",").split(","):
        if not pair:
            continue  # tolerate ";;" / trailing ";"
        key, eq, text = pair.partition("=")
        if not eq or not key:
            raise FieldError(f"CP item {pair!r} is not key=value", code=E_CP)
        if key == DATA_TIME_KEY:
            data_time = parse_timestamp(text)
            continue
        spec = classify_key(key)
        if spec is None:
            extra[key] = text
            continue
        code, kind, metric = spec
        if kind is None:
            flags[code] = text
            continue
        value: float | None = None
        if text:
            try:
                value = float(text)
            except ValueError:
                raise FieldError(f"bad value {text!r} for {key}", code=E_CP) from None
            if not isfinite(value):
                raise FieldError(f"bad value {text!r} for {key} (not finite)", code=E_CP)
        items.append(_new(Item, (code, metric, kind, value, FLAG_NORMAL, True)))
    if flags:
        items = _apply_flags(items, flags, extra)
    return data_time, items, extra


def _apply_flags(items: list[Item], flags: dict[str, str], extra: dict[str, str]) -> list[Item]:
    """The items with their "-Flag" applied; a flag whose code has no value moves to
    ``extra`` (kept, not lost). Split off :func:`parse_cp_reference`: once per frame, after
    its loop over the pairs, and only for frames that carry flags."""
    valued = {it.code for it in items}
    for code in [c for c in flags if c not in valued]:
        extra[f"{code}-{FLAG_SUFFIX}"] = flags.pop(code)  # a flag without value: keep it
    info = {code: flag_info(f) for code, f in flags.items()}
    return [_new(Item, (*it[:4], *info.get(it.code, _NORMAL))) for it in items]


def _separators(length: int) -> bytes:
    """What ``length`` separators of well-formed pairs read: ``=,=,...,=`` (never equal to
    an even-length sequence)."""
    return b"=," * ((length - 1) >> 1) + b"="


_SEPARATORS_CACHED: Final = 256
_SEPARATORS: Final = tuple(_separators(n) for n in range(_SEPARATORS_CACHED))  # by length


class _Plan(NamedTuple):
    """Where things are in the token list ``[k0, v0, k1, v1, ...]`` of one key sequence."""

    data_time: int  # token index of the DataTime value, -1 when absent
    values: Callable[[list[str]], tuple[str, ...]]  # value tokens of the items, in order
    flags: Callable[[list[str]], tuple[str, ...]] | None  # each item's flag token
    codes: tuple[str, ...]
    metrics: tuple[str | None, ...]
    kinds: tuple[str, ...]
    extra: tuple[tuple[str, int], ...]  # (key, token index) of other keys, in order


_PLANS: dict[str, _Plan | None] = {}  # None: shape left to the reference loop
_UNPLANNED: Final = _Plan(-1, tuple, None, (), (), (), ())  # sentinel: shape not seen yet


def _getter(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """itemgetter that always returns a tuple (itemgetter(i) alone returns a scalar)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda toks: (toks[only],)
    return itemgetter(*indexes)


def _make_plan(keys: tuple[str, ...]) -> _Plan | None:
    """Classify a key sequence once; None when the reference loop must handle it."""
    data_time = -1
    value_specs: list[tuple[int, tuple[str, str | None, str | None]]] = []
    flag_at: dict[str, int] = {}
    extra: list[tuple[str, int]] = []
    for i, key in enumerate(keys):
        if not key or (key == DATA_TIME_KEY and data_time >= 0):
            return None  # errors / repeated DataTime: leave to the reference loop
        if key == DATA_TIME_KEY:
            data_time = 2 * i + 1
            continue
        spec = classify_key(key)
        if spec is None:
            extra.append((key, 2 * i + 1))
        elif spec[1] is None:
            flag_at[spec[0]] = 2 * i + 1  # last one wins, like the reference dict
        else:
            value_specs.append((2 * i + 1, spec))
    valued = {spec[0] for _, spec in value_specs}
    extra.extend(
        (f"{code}-{FLAG_SUFFIX}", at) for code, at in flag_at.items() if code not in valued
    )
    if not value_specs:
        return None  # nothing to speed up
    missing = 2 * len(keys)  # index of an "N" token appended for items without a flag
    flag_indexes = [flag_at.get(spec[0], missing) for _, spec in value_specs]
    return _Plan(
        data_time=data_time,
        values=_getter([at for at, _ in value_specs]),
        flags=_getter(flag_indexes) if flag_at else None,
        codes=tuple(spec[0] for _, spec in value_specs),
        metrics=tuple(spec[2] for _, spec in value_specs),
        kinds=tuple(spec[1] or "" for _, spec in value_specs),
        extra=tuple(extra),
    )


def _plan_new_shape(keys: str, toks: list[str]) -> _Plan | None:
    """Make and cache the plan of a key sequence not seen before (the cache is emptied when
    full). Split off :func:`_parse_planned`: runs once per shape, not once per frame."""
    if len(_PLANS) >= _PLAN_CACHE_MAX:
        _PLANS.clear()
    plan = _PLANS[keys] = _make_plan(tuple(toks[0::2]))
    return plan


def _parse_planned(body: str) -> CPResult | None:
    """The fast path; None whenever the input is not a plain ``k=v`` list it can handle."""
    # Exactly one '=' per pair <=> the separators read "=,=,=...=" (';' counted as ',').
    seps = body.encode("ascii", "replace").translate(_SEMICOLON_AS_COMMA, _NON_SEPARATORS)
    n = len(seps)
    if seps != (_SEPARATORS[n] if n < _SEPARATORS_CACHED else _separators(n)):
        return None
    toks = body.replace(";", ",").replace("=", ",").split(",")
    keys = ",".join(toks[0::2])  # ',' never occurs in a key: an unambiguous cache key
    plan = _PLANS.get(keys, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plan_new_shape(keys, toks)
    if plan is None:
        return None
    data_at, get_values, get_flags, codes, metrics, kinds, extra_at = plan
    try:
        values = list(map(float, get_values(toks)))
    except ValueError:
        return None  # empty or bad value: the reference loop says which
    if not isfinite(sum(values)):
        return None  # inf/nan somewhere (or a finite sum overflowed): reference decides
    data_time = None
    if data_at >= 0:
        stamp = toks[data_at]
        data_time = _TS_CACHE.get(stamp) or parse_timestamp(stamp)
    n = len(values)
    marks: Iterable[str] = repeat(FLAG_NORMAL)
    valid: Iterable[bool] = repeat(True)
    if get_flags is not None:
        toks.append(FLAG_NORMAL)  # the token items without a "-Flag" point at
        flags = get_flags(toks)
        if flags.count(FLAG_NORMAL) != n:
            validity = list(map(_VALIDITY, flags))
            if None in validity:  # unknown or oddly written flags: normalise one by one
                infos = list(map(flag_info, flags))
                marks, valid = [f for f, _ in infos], [ok for _, ok in infos]
            else:
                marks, valid = flags, validity  # type: ignore[assignment]
    rows = zip(codes, metrics, kinds, values, marks, valid, strict=False)
    items = list(map(_new, repeat(Item, n), rows))
    extra = {key: toks[at] for key, at in extra_at} if extra_at else {}
    return data_time, items, extra
