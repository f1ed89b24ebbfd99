"""Rules for the free text users type (names, phones, codes, notes), shared by every schema.

A control character (Unicode category ``Cc``: C0, DEL and C1) has no business in a name: it
cannot be seen, it breaks XML writers (an Excel export answered 500 for everyone who saw the
row) and it can disguise one name as another. :data:`PlainText` refuses them all;
:data:`MultilineText` (descriptions, reasons, notes) allows tab, line feed and carriage return.
Use them (or their ``Optional…`` forms for ``str | None``) in place of ``str`` in input
schemas, with ``Field`` for the lengths as before.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator

from dustgrid.errors import Invalid
from dustgrid.i18n import Msg, is_key

# What a multi-line field may hold besides printable text.
MULTILINE_ALLOWED: Final = frozenset("\t\n\r")
# Code points that XML 1.0 forbids outright (an .xlsx is XML): never written to a file.
_XML_ILLEGAL: Final = "\ufffe\uffff"


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def find_control(text: str, *, allowed: frozenset[str] = frozenset()) -> int | None:
    """Index of the first control character not in ``allowed``, or None."""
    for i, ch in enumerate(text):
        if ch not in allowed and _is_control(ch):
            return i
    return None


def _refuse(text: str, allowed: frozenset[str]) -> str:
    pos = find_control(text, allowed=allowed)
    if pos is not None:
        code = f"U+{ord(text[pos]):04X}"
        raise ValueError(Msg("core.error.control_character", {"code": code, "position": pos + 1}))
    return text


def _single_line(text: str | None) -> str | None:
    return None if text is None else _refuse(text, frozenset())


def _multi_line(text: str | None) -> str | None:
    return None if text is None else _refuse(text, MULTILINE_ALLOWED)


PlainText = Annotated[str, AfterValidator(_single_line)]
"""One-line text a user types: no control characters at all (tab and newline included)."""

MultilineText = Annotated[str, AfterValidator(_multi_line)]
"""Multi-line text (descriptions, reasons, notes): tab and line breaks allowed, nothing else."""

# Optional forms: the check wraps ``str | None`` so that ``Field(max_length=...)`` still
# applies to the string itself (and keeps pydantic's usual "at most N characters" message).
OptionalPlainText = Annotated[str | None, AfterValidator(_single_line)]
OptionalMultilineText = Annotated[str | None, AfterValidator(_multi_line)]

_STRIP: Final = re.compile(
    "[" + "".join(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
    + "\x7f-\x9f" + _XML_ILLEGAL + "\ud800-\udfff]"
)  # fmt: skip


def strip_controls(text: str) -> str:
    """``text`` without control characters (tab and line breaks kept) nor XML-illegal code
    points: what an export writes for a value stored before these rules existed."""
    return _STRIP.sub("", text)


def check_field(field: str, text: str | None, *, multiline: bool = False) -> None:
    """The same rule for input that reaches a service without a schema (form fields read one
    by one, as in the case moves): :class:`Invalid` naming the field."""
    if text is None:
        return
    try:
        _refuse(text, MULTILINE_ALLOWED if multiline else frozenset())
    except ValueError as exc:
        label = Msg(f"field.{field}") if is_key(f"field.{field}") else Msg("field.other")
        said = exc.args[0] if exc.args else ""
        raise Invalid(
            Msg("core.error.field_problem", {"field": label, "problem": said}),
            details={"field": field},
        ) from None
