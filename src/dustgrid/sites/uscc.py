"""Unified social credit code (统一社会信用代码, GB 32100-2015) checks for enterprises.

Layout of the 18 characters (1-based positions):

- 1: registration authority (登记管理部门), e.g. 9 = market regulation (工商);
- 2: institution category (机构类别), e.g. 1 = company under authority 9;
- 3–8: administrative division code (登记管理机关行政区划码), digits;
- 9–17: organisation code (主体标识码, GB 11714);
- 18: check character over the first 17.

The check uses the 31-symbol alphabet below (no I, O, Z, S, V), position weights
3^i mod 31 and check = 31 − (Σ value×weight mod 31), where 31 maps to 0.
Errors are raised in Chinese and English because the message goes straight to the clerk
typing the ledger.
"""

from __future__ import annotations

import unicodedata

from dustgrid.i18n import Msg

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18

_VALUE = {ch: i for i, ch in enumerate(USCC_CHARSET)}
_DIVISION = range(2, 8)  # 0-based indices of positions 3–8


class USCCError(ValueError):
    """An invalid code; ``reason``: type, length, illegal_char, division or check."""

    def __init__(
        self,
        message: Msg,
        *,
        reason: str,
        position: int | None = None,
        expected: str | None = None,
        got: str | None = None,
    ) -> None:
        super().__init__(message)
        self.msg = message  # said in the reader's language where it is shown
        self.reason = reason
        self.position = position  # 1-based
        self.expected = expected
        self.got = got


def normalise_uscc(code: str) -> str:
    """Fold full-width characters (NFKC), strip surrounding blanks and upper-case."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def _check_chars(code: str) -> None:
    """Raise on the first character outside the alphabet, or a non-digit in positions 3–8."""
    for i, ch in enumerate(code):
        if ch not in _VALUE:
            key = "uscc.illegal_unused" if ch in "IOZSV" else "uscc.illegal"
            raise USCCError(
                Msg(key, {"position": i + 1, "char": repr(ch)}),
                reason="illegal_char",
                position=i + 1,
                got=ch,
            )
        if i in _DIVISION and not ch.isdigit():
            raise USCCError(
                Msg("uscc.division", {"position": i + 1, "char": repr(ch)}),
                reason="division",
                position=i + 1,
                got=ch,
            )


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a code."""
    body = normalise_uscc(first17)
    if len(body) != USCC_LENGTH - 1:
        raise USCCError(
            Msg("uscc.length17", {"n": len(body)}),
            reason="length",
            got=str(len(body)),
        )
    _check_chars(body)
    total = sum(_VALUE[ch] * w for ch, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return the normalised code, or raise :class:`USCCError` saying what is wrong."""
    if not isinstance(code, str):
        raise USCCError(Msg("uscc.type"), reason="type")
    norm = normalise_uscc(code)
    if len(norm) != USCC_LENGTH:
        raise USCCError(
            Msg("uscc.length", {"n": len(norm)}),
            reason="length",
            got=str(len(norm)),
        )
    _check_chars(norm)
    expected = uscc_check_char(norm[:17])
    if norm[17] != expected:
        raise USCCError(
            Msg("uscc.check", {"expected": expected, "got": norm[17]}),
            reason="check",
            position=18,
            expected=expected,
            got=norm[17],
        )
    return norm


def is_valid_uscc(code: str) -> bool:
    """Boolean form of :func:`validate_uscc` for filters and form hints."""
    try:
        validate_uscc(code)
    except USCCError:
        return False
    return True


def make_uscc(prefix17: str) -> str:
    """Complete a 17-character prefix with its check character (demo data, fixtures)."""
    body = normalise_uscc(prefix17)
    return body + uscc_check_char(body)
