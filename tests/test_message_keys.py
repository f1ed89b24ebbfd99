"""No glued "中文 / English" text in the code, every message key the code names exists in
both languages (issue 13, "No internal text on screen"), and every key of the catalogues is
used: named whole in the code, a template or a script, or built by the code from a start
and a value in one of the families of ``BUILT_KEYS``.

The checks read the source (``ast``, and the text of templates and scripts), so they need
no database. A text a person reads is a message key with parameters
(``Invalid("sites.error.not_found", site_id=5)``, ``Msg(key, params)``) rendered in the
reader's language when it is shown.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

from dustgrid.i18n import DEFAULT_LOCALE, KEY_PATTERN, LOCALES, catalogue

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


@cache
def _parsed() -> tuple[tuple[str, ast.AST], ...]:
    return tuple(
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(SRC.rglob("*.py"))
    )


def _sources() -> Iterator[tuple[str, ast.AST]]:
    yield from _parsed()


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


# --- every key of the catalogues is used ----------------------------------------------------

#: Key families the code builds from a start and a value (an enum's value, a field's, a
#: step's or a flag's name) instead of naming each key whole; ``*`` stands for the value.
#: A catalogue key that matches one counts as used. Each family is allowed here on purpose,
#: with a file that builds it (which must still hold the family's start); a key that is
#: neither named whole nor in a family here is unused, and the test below fails.
BUILT_KEYS: dict[str, str] = {
    "alerts.chart.*": "web/alert_pages.py",
    "alerts.cleared.*": "alerts/service.py",
    "alerts.flag.*": "alerts/flags.py",
    "alerts.kind.*": "alerts/service.py",
    "alerts.reason.*": "web/templates/alerts/detail.html",
    "alerts.rule.agg.*": "web/templates/alerts/profiles.html",
    "alerts.rule.field.*": "alerts/ruleform.py",
    "alerts.rule.help.*": "web/templates/alerts/profiles.html",
    "alerts.rule.kind.*": "web/templates/alerts/profiles.html",
    "alerts.rule.zone.*": "alerts/rulesets.py",
    "alerts.severity.*": "web/list_exports.py",
    "alerts.state.*": "alerts/service.py",
    "app_status.*": "devices/states.py",
    "assessments.appeal_state.*": "web/templates/assessments/party.html",
    "assessments.consequence.*": "reports/archives.py",
    "assessments.evidence.*": "web/assessment_pages.py",
    "assessments.kind.*": "reports/notice.py",
    "assessments.reason.*": "web/templates/assessments/month.html",
    "assessments.rule.*": "web/templates/assessments/party.html",
    "assessments.state.*": "web/templates/assessments/month.html",
    "case_clock.*": "web/templates/cases/_rows.html",
    "case_disposition.*": "web/templates/cases/detail.html",
    "case_event.*": "cases/followups.py",
    "case_move.*": "cases/states.py",
    "case_severity.*": "web/templates/cases/detail.html",
    "case_source.*": "cases/states.py",
    "case_state.*": "cases/citybrain.py",
    "cases.handle_now.*": "web/templates/cases/new.html",
    "cases.light.*": "cases/export.py",
    "cases.tab.*": "web/templates/cases/inbox.html",
    "crc.*": "web/templates/devices/detail.html",
    "device_kind.*": "web/list_exports.py",
    "devices.*.no": "web/templates/devices/application.html",
    "devices.*.yes": "web/templates/devices/application.html",
    "devices.flash.*": "web/device_pages.py",
    "devices.light.*": "web/templates/devices/_steps.html",
    "devices.mandatory.gate.*": "web/pages.py",
    "devices.step.*": "web/templates/devices/_steps.html",
    "emergencies.area.*": "web/templates/emergencies/detail.html",
    "emergencies.level.*": "emergencies/service.py",
    "emergencies.measure.*": "web/templates/emergencies/detail.html",
    "emergencies.notify.*": "emergencies/service.py",
    "emergencies.status.*": "web/templates/emergencies/detail.html",
    "emergencies.verdict.*": "web/templates/emergencies/detail.html",
    "evidence.field.*": "web/evidence.py",
    "excel.*_read_only": "sites/excel/importing.py",
    "field.*": "cases/states.py",
    "grading.mode.*": "web/site_grades.py",
    "grid_kind.*": "grids/service.py",
    "grids.group.rule_*": "web/templates/grids/detail.html",
    "grids.who.*": "grids/service.py",
    "history.action.*": "web/history.py",
    "history.field.*": "web/history.py",
    "history.unit.*": "web/history.py",
    "hotline.dup.rule.*": "intake/hotline_reasons.py",
    "hotline.suggest.why_*": "intake/hotline_reasons.py",
    "ingest.channel.*": "web/templates/ingest/dead_letters.html",
    "ingest.error.*": "web/templates/ingest/dead_letters.html",
    "ingest.status.*": "web/templates/ingest/dead_letters.html",
    "inspections.flag.*": "inspections/service.py",
    "inspections.item.*": "inspections/checklist.py",
    "inspections.mode.*": "reports/archives.py",
    "inspections.outcome.*": "web/templates/inspections/start.html",
    "inspections.result.*": "reports/archives.py",
    "intake.answer.satisfied_*": "web/templates/intake/hotline_detail.html",
    "intake.channel.*": "web/templates/intake/hotline_detail.html",
    "intake.status.*": "intake/hotline.py",
    "intake.when.*": "intake/hotline.py",
    "kind.*": "web/templates/citybrain/detail.html",
    "ladder_action.*": "web/templates/cases/detail.html",
    "lifecycle.*": "web/list_exports.py",
    "org.level.*": "web/templates/org/index.html",
    "patrols.focus.*": "web/templates/patrols/week.html",
    "patrols.kind.*": "web/templates/patrols/week.html",
    "patrols.status.*": "web/templates/field/today.html",
    "permit.*": "web/templates/sites/detail.html",
    "proposal_status.*": "web/templates/cases/detail.html",
    "quarantine_reason.*": "web/templates/devices/quarantine.html",
    "reports.state.*": "reports/service.py",
    "request_kind.*": "web/templates/devices/detail.html",
    "request_status.*": "web/templates/devices/detail.html",
    "role.*": "cases/states.py",
    "stage.*": "web/templates/citybrain/detail.html",
    "step_state.*": "web/templates/devices/_steps.html",
    "telemetry.metric.*": "alerts/offline.py",
    "telemetry.period.*": "web/templates/telemetry/site_panel.html",
    "trajectories.kind.*": "web/templates/citybrain/places.html",
    "trajectories.reason.*": "trajectories/service.py",
    "trajectories.status.*": "trajectories/service.py",
    "unit_kind.*": "org/service.py",
    "validation.*": "errors.py",
}

#: Files other than Python that name keys: templates, scripts, data (not the catalogues).
_PAGE_SUFFIXES = (".html", ".js", ".json")
#: A quoted word as a template (``t('cases.title')``) or a script names a key.
_QUOTED = re.compile(r"""(['"])([a-z][a-z0-9_]*(?:\.[^'"\s]+)+)\1""")


def _page_files() -> Iterator[Path]:
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC).parts
        if path.suffix in _PAGE_SUFFIXES and rel[0] != "i18n" and "vendor" not in rel:
            yield path


@cache
def _named_whole() -> frozenset[str]:
    """Every catalogue key that the code, a template, a script or a data file names whole
    (a string literal, not the start of an f-string)."""
    keys = set(catalogue(DEFAULT_LOCALE))
    found: set[str] = set()
    for _, tree in _sources():
        pieces = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        found.update(
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and id(n) not in pieces
            and n.value in keys
        )
    for path in _page_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        found.update(m.group(2) for m in _QUOTED.finditer(text) if m.group(2) in keys)
    return frozenset(found)


def _built(key: str) -> bool:
    return any(fnmatchcase(key, family) for family in BUILT_KEYS)


def test_the_use_check_sees_code_templates_scripts_and_families() -> None:
    named = _named_whole()
    assert "nav.today" in named  # Python: web/nav.py's menu entries
    assert "overview.stale" in named  # a template: t('overview.stale')
    assert "case_state.closed" not in named and _built("case_state.closed")  # label(…)
    assert _built("history.unit.ug/m3")  # web/history.py's value groups
    assert not _built("cases.title")


def test_every_catalogue_key_is_used() -> None:
    """A key no code, template or script names, and no family of ``BUILT_KEYS`` covers, is
    unused: delete it from both languages (or, when the code builds it from a start and a
    value, add the family to ``BUILT_KEYS`` with the file that builds it)."""
    named = _named_whole()
    unused = sorted(k for k in catalogue(DEFAULT_LOCALE) if k not in named and not _built(k))
    assert not unused, "message keys nothing uses:\n" + "\n".join(unused)


@pytest.mark.parametrize("family", sorted(BUILT_KEYS))
def test_each_built_family_is_still_built_and_needed(family: str) -> None:
    """The allowance is kept honest: the file named still holds the family's start, and the
    family covers a key that is not named whole anywhere (else it allows nothing)."""
    where = SRC / BUILT_KEYS[family]
    start = family.split("*", 1)[0].rstrip("._-")
    assert where.is_file(), f"{family}: {BUILT_KEYS[family]} does not exist"
    assert start in where.read_text(encoding="utf-8"), f"{family}: not built in {where.name}"
    named = _named_whole()
    covered = [k for k in catalogue(DEFAULT_LOCALE) if fnmatchcase(k, family)]
    assert covered, f"{family}: no key of the catalogues is in this family"
    assert any(k not in named for k in covered), f"{family}: every key is named whole"
