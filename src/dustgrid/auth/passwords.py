"""Password hashing with argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    """Reject passwords that are too short or single-class; messages in zh-CN and English."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"密码至少 {MIN_PASSWORD_LENGTH} 位 / password needs at least "
            f"{MIN_PASSWORD_LENGTH} characters"
        )
    if password.isdigit() or password.isalpha():
        raise WeakPassword("密码须同时包含字母和数字 / password needs letters and digits")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
