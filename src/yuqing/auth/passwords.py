"""Passwords (密码): argon2id hashes, a dummy hash that makes an unknown account cost what a
known one does, and a strength check (zxcvbn's guess estimate) that says in Chinese why a
password is refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from yuqing.auth import config

_hasher = PasswordHasher()
# The hash of a random password nobody kept: checking a password against it costs what a
# real check costs, so an unknown or disabled account answers as slowly as a known one.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$nNpLG8mo1UpLOgdmVZPQDw$"
    "iayTjWJvG7R87i2lGlFLQ6UbB2gAOEJTjJ66qt78oTE"
)
# zxcvbn refuses longer input (its matching grows with the length); the first characters of
# a long password tell enough.
_ZXCVBN_MAX = 72


class WeakPassword(ValueError):
    """A new password refused, with the reason for the user (Chinese)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    # Made anew only when the hasher's parameters change, so both checks still cost the same.
    return _DUMMY_HASH if not _hasher.check_needs_rehash(_DUMMY_HASH) else hash_password("x")


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no usable hash (unknown, disabled or
    password-less account) the dummy hash is checked instead and the answer is ``False``."""
    if stored and stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    with suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)
    return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


# Why a password is easy to guess, by the kind of its weakest part (zxcvbn's match patterns).
_REASONS = {
    "passwords": "它是常见密码，或由常见密码稍加变化而成",
    "user_inputs": "它包含用户名、姓名或系统名称",
    "english_wikipedia": "它由常见单词组成",
    "us_tv_and_film": "它由常见单词组成",
    "female_names": "它由常见人名组成",
    "male_names": "它由常见人名组成",
    "surnames": "它由常见人名组成",
    "spatial": "它是键盘上相邻的按键（如 qwerty、1qaz2wsx）",
    "repeat": "它由重复的字符或片段组成（如 aaa、abcabc）",
    "sequence": "它是连续的字母或数字（如 abcdef、123456）",
    "date": "它以日期或年份为主",
    "regex": "它以日期或年份为主",
}


def _reason(sequence: Sequence[Mapping[str, object]]) -> str:
    """The reason of the part that saves a guesser the most: the longest guessable match."""
    guessable = [m for m in sequence if m["pattern"] != "bruteforce"]
    if not guessable:
        return "它太短或太有规律"
    weakest = max(guessable, key=lambda m: len(str(m["token"])))
    pattern = str(weakest["pattern"])
    key = str(weakest.get("dictionary_name", "")) if pattern == "dictionary" else ""
    return _REASONS.get(key or pattern, "它太有规律")


def check_strength(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a password that is short, of one kind of character, or easy to guess: common
    passwords, keyboard walks, repeats, sequences, dates, the account's own names."""
    if len(password) < config.MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"密码至少需要 {config.MIN_PASSWORD_LENGTH} 个字符")
    if password.isdigit() or password.isalpha():
        raise WeakPassword("密码需同时包含字母和数字（或符号）")
    from zxcvbn import zxcvbn  # 0.1 s to import: only where a password is set

    words = [w.strip().lower() for w in (*user_inputs, *config.PASSWORD_CONTEXT_WORDS)]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[w for w in words if w])
    if result["score"] < config.MIN_PASSWORD_SCORE:
        raise WeakPassword(
            f"密码太容易被猜到：{_reason(result['sequence'])}。"
            "请换一个更长、更不规则的密码，例如几个不相关的词加上数字或符号"
        )
