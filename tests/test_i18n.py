"""The office's language (docs/spec.md §9): gettext catalogs that cover every message in the code, chosen by
ANTT_LANG, then the office config, then Vietnamese; never by the machine's locale."""

from __future__ import annotations

import gettext
import io
import re
import string
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
    """Every message the code passes to `_` or `ngettext`, as `make messages` extracts them."""
    found = set()
    for _name, _line, message, _comments, _context in extract_from_dir(
            REPO / "antt", method_map=[("**.py", "python")], keywords={"_": None, "ngettext": (1, 2)}):
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
