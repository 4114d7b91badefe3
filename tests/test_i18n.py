"""The office's language (docs/spec.md §9): gettext catalogs that cover every message in the code, chosen by
ANTT_LANG, then the office config, then Vietnamese; never by the machine's locale."""

from __future__ import annotations

import gettext
import io
import re
import string
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from antt import i18n
from antt.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _extracted() -> set[str]:
    """Every message the code and the templates pass to `_` or `ngettext`, as `make messages` extracts them."""
    found = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
            REPO / "antt", method_map=[("**.py", "python"), ("report_templates/**.j2", "jinja2")],
            options_map={"report_templates/**.j2": {"trim_blocks": "true", "lstrip_blocks": "true"}},
            keywords={"_": None, "ngettext": (1, 2)}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(lang: str):
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "antt.po").open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE])
def test_every_message_in_the_code_is_translated(lang):
    catalog = _catalog(lang)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    missing = sorted(_extracted() - set(translated))
    assert not missing, f"run `make messages` and translate: {missing[:5]}"
    untranslated = sorted(k for k, m in translated.items() if not m.string or m.fuzzy
                          or (isinstance(m.string, tuple) and not all(m.string)))
    assert not untranslated, f"empty or fuzzy translations in {lang}: {untranslated[:5]}"
    obsolete = sorted(set(translated) - _extracted())
    assert not obsolete, f"no longer in the code (run `make messages`): {obsolete[:5]}"


# A Rich markup tag such as [bold], [dim] or [/]; "[#worksheet]" and "[ ]" are text.
_MARKUP = re.compile(r"\[/?[a-z]+(?: [a-z]+)*\]|\[/\]")


def _fields(text: str) -> Counter:
    """The str.format fields of a message, with their conversion and format spec."""
    return Counter((name, conv, spec) for _lit, name, spec, conv in string.Formatter().parse(text) if name is not None)


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE])
def test_a_translation_keeps_every_placeholder_and_markup_tag(lang):
    for message in _catalog(lang):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            assert _fields(text) == _fields(ids[-1]), f"placeholders differ: {ids[0]!r} → {text!r}"
            assert _MARKUP.findall(text) == _MARKUP.findall(ids[0]), f"markup differs: {ids[0]!r} → {text!r}"


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE])
def test_a_compiled_catalog_matches_its_source(lang):
    mo = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "antt.mo"
    if not mo.is_file():  # a bare checkout reads the .po; `make` compiles it
        pytest.skip("catalog not compiled")
    buffer = io.BytesIO()
    write_mo(buffer, _catalog(lang))
    buffer.seek(0)
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)._catalog
    fresh = gettext.GNUTranslations(buffer)._catalog
    assert {k: v for k, v in compiled.items() if k} == {k: v for k, v in fresh.items() if k}, \
        "stale catalog: run `make install`"


def test_the_language_is_antt_lang_then_the_office_config_then_vietnamese(monkeypatch):
    monkeypatch.delenv("ANTT_LANG", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the machine's locale never decides
    monkeypatch.setenv("LC_ALL", "C")
    assert i18n.language() == "vi"
    assert i18n.language("en") == "en"
    monkeypatch.setenv("ANTT_LANG", "en")
    assert i18n.language("vi") == "en"
    monkeypatch.setenv("ANTT_LANG", "fr")
    with pytest.raises(ConfigError, match="ANTT_LANG='fr'"):
        i18n.language()


# Where Python may hold Vietnamese: text about Vietnamese text (a transliteration rule and its example, an e-mail
# bug's example). Words the office reads live in the catalogs, templates and config.
_VIETNAMESE_ALLOWED = {
    ("antt/mail/message.py", '("2026-H1: kết" arrives as "2026-H1:kết")'),  # the Subject folding bug it works around
    ("antt/outputs/html.py", "('Phòng GD&ĐT Đông Triều' →"),  # the slug's example
    ("antt/outputs/html.py", 'name.replace("Đ", "D").replace("đ", "d")'),  # Đ has no ASCII decomposition in NFKD
}
_VIETNAMESE = re.compile("[ăâđêôơưĂÂĐÊÔƠƯ]|[\u0300-\u036f]|[\u1ea0-\u1ef9]|[àáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ]")


def test_python_holds_no_vietnamese_outside_a_few_justified_lines():
    found = []
    for path in sorted((REPO / "antt").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if _VIETNAMESE.search(unicodedata.normalize("NFD", line)):
                found.append((path.relative_to(REPO).as_posix(), line.strip()))
    unexplained = [(p, line) for p, line in found if not any(p == q and s in line for q, s in _VIETNAMESE_ALLOWED)]
    assert not unexplained, f"Vietnamese belongs in antt/locale, antt/report_templates or config/: {unexplained[:5]}"
    assert len(found) <= 5


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE])
def test_every_word_typer_says_is_translated(lang):
    """Typer's own words in the help and its errors (antt/i18n.py `speak_for_typer`): its catalog follows the
    installed Typer."""
    import typer

    said = {m if isinstance(m, str) else m[0] for _n, _l, m, _c, _x in extract_from_dir(
        Path(typer.__file__).parent, method_map=[("**.py", "python")], keywords={"_": None, "ngettext": (1, 2)})}
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.TYPER_DOMAIN}.po").open("rb") as fh:
        catalog = {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(fh) if m.id}
    assert said == set(catalog), "run `make messages` and translate typer.po"
    assert all(m.string and not m.fuzzy for m in catalog.values())


def _failure_notice():
    from datetime import UTC, datetime

    from antt.mail.failure import failure_message

    return failure_message(flow_name="run-cycle", run_name="2026-H1", state="Crashed", reason="", link="http://ui/1",
                           parameters={"cycle": "2026-H1"}, at=datetime(2026, 6, 3, 7, tzinfo=UTC), to="a@b.vn")


def _province_summary():
    from antt.outputs.artifacts import province_markdown

    document = {"cycle": {"id": "2026-H1"}, "units": [{}, {}], "overall": {"expected": 9, "submitted": 7, "dat": 5},
                "failed": [{"name": "Phòng GD&ĐT B", "reason": "x"}]}
    return province_markdown(document, Path("out/province/2026-H1"))


def test_the_failure_notice_and_the_artifacts_in_vietnamese():
    notice = _failure_notice()
    assert notice.subject == "[antt] run-cycle 2026-H1: bị dừng đột ngột (Crashed)"
    assert notice.text.startswith("Lần chạy run-cycle “2026-H1” kết thúc ở trạng thái Crashed lúc 07:00:00 03/06/2026")
    assert "Lý do: không rõ (xem nhật ký lần chạy)" in notice.text and "Tham số:\n- cycle: 2026-H1" in notice.text
    assert _province_summary().splitlines() == [
        "# Tổng hợp 2 đơn vị – kỳ 2026-H1", "", "- Trường phải báo cáo: 9; đã gửi: 7; đạt: 5",
        "- Báo cáo: `out/province/2026-H1/province.html`", "- **Lỗi** Phòng GD&ĐT B: x"]


def test_the_failure_notice_and_the_artifacts_in_english(english):
    notice = _failure_notice()
    assert notice.subject == "[antt] run-cycle 2026-H1: crashed (Crashed)"
    assert notice.text.startswith("The run-cycle run “2026-H1” ended in state Crashed at 07:00:00 03/06/2026")
    assert "Reason: unknown (see the run's log)" in notice.text and "Parameters:\n- cycle: 2026-H1" in notice.text
    assert _province_summary().splitlines()[0] == "# Roll-up of 2 units – cycle 2026-H1"
    assert _province_summary().splitlines()[-1] == "- **Failed** Phòng GD&ĐT B: x"
