"""The office's language for everything it reads outside the pages: the CLI's help, progress, summaries and errors,
the Prefect artifacts and the failure e-mails (docs/spec.md §9).

Messages are written in English in the code, `_("…")`, and translated through the gettext catalogs in
`antt/locale/<lang>/LC_MESSAGES/antt.po` (`make messages` extracts and updates them; the build compiles them to
`.mo`). The language is `ANTT_LANG` when set, else `language` in the office config, else Vietnamese: never the
machine's locale, since servers run in C or English locales while their users are Vietnamese. English is the
catalogs' source language, so `ANTT_LANG=en` needs no catalog.

The pages and e-mails for schools and leadership are Vietnamese documents whose words live in the templates and
config, not here.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

from antt.errors import ConfigError

DOMAIN = "antt"
TYPER_DOMAIN = "typer"  # Typer's own words (Options, [required]…), extracted from it by `make messages`
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"
DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")
ENV = "ANTT_LANG"

_active: gettext.NullTranslations | None = None
_active_language: str | None = None


def language(configured: str | None = None) -> str:
    """`ANTT_LANG`, else the office config's `language`, else Vietnamese."""
    chosen = (os.environ.get(ENV) or "").strip() or (configured or "").strip() or DEFAULT_LANGUAGE
    if chosen not in LANGUAGES:
        source = ENV if os.environ.get(ENV, "").strip() else "language"
        raise ConfigError(f"{source}={chosen!r}: unknown language (known: {', '.join(LANGUAGES)})")
    return chosen


def catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of `lang`; its `.po` when the build has not compiled it (a bare source checkout)."""
    if lang == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    mo = folder / f"{DOMAIN}.mo"
    if mo.is_file():
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    return _from_po(folder / f"{DOMAIN}.po")


def _from_po(po: Path) -> gettext.NullTranslations:
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        messages = read_po(fh)
    buffer = BytesIO()
    write_mo(buffer, messages)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def use(lang: str) -> None:
    """Speak `lang` from now on (the CLI at start, a flow once it has read the office config)."""
    global _active, _active_language
    if lang != _active_language:
        _active, _active_language = catalog(lang), lang


def speak_for_typer() -> None:
    """Typer words its help panels ("Options", "[required]", "[default: …]") through the standard library's global
    gettext domain, which takes its language from the environment: point both at the `typer` catalog and the
    active language, for this process and the ones it starts. Needs the compiled catalog."""
    gettext.bindtextdomain(TYPER_DOMAIN, LOCALE_DIR)
    gettext.textdomain(TYPER_DOMAIN)
    os.environ["LANGUAGE"] = active_language()


def active_language() -> str:
    if _active_language is None:
        use(language())
    return _active_language  # type: ignore[return-value]


def _(message: str) -> str:
    """`message` in the active language."""
    if _active is None:
        use(language())
    return _active.gettext(message)  # type: ignore[union-attr]


def ngettext(singular: str, plural: str, n: int) -> str:
    if _active is None:
        use(language())
    return _active.ngettext(singular, plural, n)  # type: ignore[union-attr]
