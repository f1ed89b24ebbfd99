"""Password hashing with argon2id (argon2-cffi's tuned defaults) and the password policy.

The policy applies whenever a password is set for a real account: a minimum length (setting
``password_min_length``), letters and digits, not one of the common or breached passwords
shipped in ``data/common_passwords.txt`` (source and licence in its header), and not built
from the account's own user name or display name. Demo accounts are created by the demo
loader, which hashes the published demo password directly and bypasses this policy.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
# A name shorter than this is not looked for inside a password (it would match by chance).
NAME_MIN_MATCH = 3
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


class WeakPassword(ValueError):
    """A refused password: ``key`` is the message key (``auth.password.*``), ``params``
    its parameters; the reader's language is chosen where it is shown."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (loaded once per process)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _squash(text: str) -> str:
    return _NOT_ALNUM.sub("", text).casefold()


def check_strength(password: str, *, min_length: int, names: tuple[str, ...] = ()) -> None:
    """Refuse a password a guesser would try first (a message key, see ``WeakPassword``).

    ``names`` are the account's own user name and display name.
    """
    if len(password) < min_length:
        raise WeakPassword("auth.password.too_short", min_length=min_length)
    if password.isdigit() or password.isalpha():
        raise WeakPassword("auth.password.letters_and_digits")
    if password.casefold() in common_passwords():
        raise WeakPassword("auth.password.too_common")
    squashed = _squash(password)
    for name in names:
        key = _squash(name)
        if len(key) >= NAME_MIN_MATCH and (key in squashed or squashed in key):
            raise WeakPassword("auth.password.contains_name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=4)
def _dummy_hash(params: tuple[int, int, int, int, int]) -> str:
    return _hasher.hash("dustgrid-dummy-password-never-matches")


def _hasher_params() -> tuple[int, int, int, int, int]:
    h = _hasher
    return (h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_dummy(password: str) -> None:
    """Spend the time of one real verification, for a user name that does not exist.

    Without it an unknown name answers in a fraction of the time, which tells a guesser
    which names are real accounts. The hash uses the current hasher's parameters.
    """
    verify_password(_dummy_hash(_hasher_params()), password)
