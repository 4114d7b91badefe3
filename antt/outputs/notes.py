"""The office's own paragraphs for a cycle's official report: `config/notes/<cycle>.md`.

A notes file is Markdown in sections headed `## <section>`, each section named as the report names it (`report_sections`
in office.yaml, word for word; a leading roman numeral such as "II." is allowed). Inside a section: paragraphs, lists,
`### subheadings`, **bold** and *italic*. What the report could not print as written (raw HTML, links, images, code,
quotes, tables, a list inside a list, an unclosed `**`) and a section the report does not have are a one-line
`ConfigError` naming the file and line: the office sees its mistake before the report leaves, never a silently different
text.

Each section becomes an HTML fragment of the report's restricted vocabulary (p, ul, ol, li, h3, strong, em, br);
markdown-it escapes every character of text, so nothing the office writes can become markup or a template tag.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from antt.config import Config
from antt.errors import ConfigError
from antt.i18n import _
from antt.text import match_key, nfc

SECTIONS = ("results", "assessment", "proposals")  # the report's sections, in order; titles in office.yaml
_BLOCKS = {"paragraph_open", "paragraph_close", "inline", "bullet_list_open", "bullet_list_close",
           "ordered_list_open", "ordered_list_close", "list_item_open", "list_item_close"}
_INLINE = {"text", "strong_open", "strong_close", "em_open", "em_close", "softbreak", "hardbreak"}
_NUMERAL = re.compile(r"^[IVX]+[.)]\s*", re.IGNORECASE)
_UNCLOSED = re.compile(r"\*\*|__")


def _markdown() -> MarkdownIt:
    # HTML is parsed (and then refused) rather than printed as literal text; no typographic replacements.
    return MarkdownIt("commonmark", {"html": True, "typographer": False})


def notes_path(config: Config, cycle_id: str) -> Path:
    return config.root / "notes" / f"{cycle_id}.md"


def load_notes(config: Config, cycle_id: str) -> dict[str, Markup]:
    """The office's sections for `cycle_id` (section id → HTML), or {} when it wrote no notes file."""
    path = notes_path(config, cycle_id)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: cannot be read as UTF-8 text ({reason})").format(path=path, reason=exc)) \
            from None
    return parse_notes(nfc(text), config, path)


def parse_notes(text: str, config: Config, path: Path) -> dict[str, Markup]:
    """Markdown `text` split into the report's sections, each checked and rendered to HTML."""
    titles = config.office.report_sections.model_dump()
    by_key = {match_key(title): sid for sid, title in titles.items()}
    md = _markdown()
    tokens = md.parse(text)
    sections: dict[str, list[Token]] = {}
    current: list[Token] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        line = (tok.map[0] + 1) if tok.map else None
        if tok.type == "heading_open" and tok.tag == "h2":
            name = tokens[i + 1].content.strip()
            sid = by_key.get(match_key(_NUMERAL.sub("", name)))
            if sid is None:
                known = "; ".join(titles.values())
                raise ConfigError(_("{path}: line {line}: unknown section \"{name}\" (the report's sections: "
                                    "{known})").format(path=path, line=line, name=name, known=known))
            if sid in sections:
                raise ConfigError(_("{path}: line {line}: section \"{name}\" appears twice")
                                  .format(path=path, line=line, name=name))
            current = sections[sid] = []
            i += 3
            continue
        if current is None:
            raise ConfigError(_("{path}: line {line}: text before the first section heading (## {name})")
                              .format(path=path, line=line, name=titles[SECTIONS[1]]))
        _check(tok, path, line)
        current.append(tok)
        i += 1
    for sid, body in sections.items():
        if not any(t.type == "inline" and t.content.strip() for t in body):
            raise ConfigError(_("{path}: section \"{name}\" is empty (write its text, or remove its heading)")
                              .format(path=path, name=titles[sid]))
    return {sid: Markup(md.renderer.render(body, md.options, {})) for sid, body in sections.items()}


def _check(tok: Token, path: Path, line: int | None) -> None:
    """What the official report can print as written; anything else is a one-line error naming the line."""
    if tok.type in ("heading_open", "heading_close"):
        if tok.tag != "h3":
            raise ConfigError(_("{path}: line {line}: only ## section headings and ### subheadings are allowed")
                              .format(path=path, line=line))
    elif tok.type in ("bullet_list_open", "ordered_list_open") and tok.level > 0:
        raise ConfigError(_("{path}: line {line}: a list inside a list is not supported").format(path=path, line=line))
    elif tok.type not in _BLOCKS:
        raise ConfigError(_("{path}: line {line}: {what} is not supported in a notes file (paragraphs, lists, "
                            "### subheadings, **bold**, *italic*)").format(path=path, line=line, what=_what(tok.type)))
    for child in tok.children or []:
        if child.type not in _INLINE:
            raise ConfigError(_("{path}: line {line}: {what} is not supported in a notes file (paragraphs, lists, "
                                "### subheadings, **bold**, *italic*)")
                              .format(path=path, line=line, what=_what(child.type)))
        if child.type == "text" and _UNCLOSED.search(child.content):
            raise ConfigError(_("{path}: line {line}: unclosed {mark} (bold): close it or remove it")
                              .format(path=path, line=line, mark=_UNCLOSED.search(child.content).group()))


def _what(token_type: str) -> str:
    """What a Markdown construct is called in an error line."""
    kind = token_type.removesuffix("_open").removesuffix("_close")
    names = {"html_block": _("HTML"), "html_inline": _("HTML"), "fence": _("a code block"),
             "code_block": _("a code block"), "code_inline": _("code"), "link": _("a link"), "image": _("an image"),
             "blockquote": _("a quotation"), "hr": _("a horizontal line"), "table": _("a table")}
    return names.get(kind, kind)
