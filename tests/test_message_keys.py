"""No glued "中文 / English" text in the code, and every message key the code names exists in
both languages (issue 13, "No internal text on screen").

Both checks read the source (``ast``), so they need no database and run in a second. A text
a person reads is a message key with parameters (``Invalid("sites.error.not_found",
site_id=5)``, ``Msg(key, params)``) rendered in the reader's language when it is shown.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dustgrid.i18n import KEY_PATTERN, LOCALES, catalogue

SRC = Path(__file__).resolve().parents[1] / "src" / "dustgrid"
I18N = SRC / "i18n"
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
LATIN_START = re.compile(r"\s*(\{[^}]*\}\s*)*\(?[A-Za-z]")
KEY_START = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)*\.$")
LATIN_END = re.compile(r"[A-Za-z0-9)}][^\u3400-\u9fff]*$")

#: Literals that are bilingual on purpose: (file relative to src/dustgrid, a piece of the
#: text) -> why. Keep it short; a sentence for people is a message key instead.
ALLOWED: dict[tuple[str, str], str] = {}

#: What takes a message key as its first argument.
KEY_TAKERS = frozenset({
    "Msg", "translate", "DomainError", "NotFound", "Forbidden", "Conflict", "Invalid",
    "Throttled", "Unauthenticated", "PasswordChangeRequired", "TooLarge", "DemoRefused",
    "MissingField", "MoveNotAllowed", "WeakPassword",
})  # fmt: skip


def glued(text: str) -> bool:
    """True when a `` / `` joins Chinese to Latin text (either way round)."""
    start = 0
    while (cut := text.find(" / ", start)) >= 0:
        left, right = text[:cut], text[cut + 3 :]
        last_left = re.split(r"[。；;\n]", left)[-1]
        if CJK.search(last_left) and LATIN_START.match(right):
            return True
        if LATIN_END.search(left) and right[:1] and CJK.match(right) and not CJK.search(left):
            return True
        start = cut + 1
    return False


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            found.add(id(body[0].value))
    return found


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string literal with its line; an f-string as one text (``{}`` for each value)."""
    skip = _docstrings(tree)
    parts_of_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            pieces = []
            for value in node.values:
                parts_of_fstrings.add(id(value))
                is_text = isinstance(value, ast.Constant) and isinstance(value.value, str)
                pieces.append(value.value if is_text else "{}")  # type: ignore[union-attr]
            yield node.lineno, "".join(pieces)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in parts_of_fstrings
        ):
            yield node.lineno, node.value


def _sources() -> Iterator[tuple[str, ast.AST]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _allowed(rel: str, text: str) -> bool:
    return any(rel == where and piece in text for where, piece in ALLOWED)


def test_the_check_finds_glued_text_and_passes_one_language() -> None:
    assert glued("站点不存在 / Site not found")
    assert glued("告警不存在：{} / alert not found")
    assert glued("no sites / 无工地")
    assert not glued("站点不存在")
    assert not glued("巡查/执法上报")
    assert not glued("low / medium / high")
    assert not glued("count_valid / expected")
    assert not glued("PM2.5：35 µg/m³ / 24 h")
    assert not glued("已巡查 {done} / {total} 个工地")
    assert glued("{} 不可调整 / {} is not tunable")


def test_no_glued_bilingual_literal_in_the_code() -> None:
    """A text for people is a message key (with zh-CN and English in the catalogues),
    never "中文 / English" in one string."""
    found = [
        f"{rel}:{line}: {text[:80]!r}"
        for rel, tree in _sources()
        for line, text in _texts(tree)
        if glued(text) and not _allowed(rel, text)
    ]
    assert not found, "glued bilingual text (use a message key):\n" + "\n".join(found)


def test_no_glued_bilingual_text_in_the_catalogues() -> None:
    found = [
        f"{locale}: {key}: {text[:80]!r}"
        for locale in LOCALES
        for key, text in catalogue(locale).items()
        if glued(text)
    ]
    assert not found, "\n".join(found)


def test_the_allow_list_only_names_literals_that_exist() -> None:
    texts = {(rel, text) for rel, tree in _sources() for _, text in _texts(tree)}
    for (where, piece), why in ALLOWED.items():
        assert why, (where, piece)
        assert any(rel == where and piece in text for rel, text in texts), (where, piece)


def _keys_named(tree: ast.AST) -> Iterator[tuple[int, str, bool]]:
    """``(line, key, is_prefix)`` for each message key a call names: a literal key, each
    branch of a conditional, or the literal start of an f-string (``f"unit_kind.{k}"``)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in KEY_TAKERS:
            continue
        first = node.args[0]
        branches = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
        for arg in branches:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if KEY_PATTERN.match(arg.value):
                    yield node.lineno, arg.value, False
            elif isinstance(arg, ast.JoinedStr) and arg.values:
                head = arg.values[0]
                start = head.value if isinstance(head, ast.Constant) else None
                if isinstance(start, str) and KEY_START.match(start):
                    yield node.lineno, start, True


def test_every_message_key_in_the_code_exists_in_both_languages() -> None:
    missing = []
    for rel, tree in _sources():
        for line, key, is_prefix in _keys_named(tree):
            for locale in LOCALES:
                known = catalogue(locale)
                ok = any(k.startswith(key) for k in known) if is_prefix else key in known
                if not ok:
                    missing.append(f"{rel}:{line}: {key!r} not in {locale}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name", sorted(p.name for p in (I18N / "zh-CN").glob("*.json")))
def test_each_catalogue_file_says_the_same_keys_in_both_languages(name: str) -> None:
    zh = json.loads((I18N / "zh-CN" / name).read_text(encoding="utf-8"))
    en_path = I18N / "en" / name
    assert en_path.exists(), f"en/{name} missing"
    en = json.loads(en_path.read_text(encoding="utf-8"))
    assert sorted(zh) == sorted(en), set(zh) ^ set(en)
    assert all(zh[k] and en[k] for k in zh)
