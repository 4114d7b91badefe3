"""Every "§" citation in the repository names a document in `docs/` and a section that exists there.

A citation reads `docs/spec.md §6.1`; further sections on the same line or the next may drop the document
(`§4 duplicates, §6.4 status`, `§6.3–6.6`), and a document in docs/ may cite itself without its name. Sections are
a document's numbered headings (`## 6. Scoring` is §6, `### 4b. …` is §4b) and the numbered items right under them
(item 1. of §6 is §6.1).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = {".py", ".j2", ".md", ".yaml", ".yml", ".csv", ".toml", ".cfg", ".txt", ".html", ".po"}
SKIP = {".git", ".venv", ".venv-lock", "out", "work", "__pycache__", ".pytest_cache", ".ruff_cache"}

DOC = re.compile(r"docs/([\w-]+)\.md\s+(?=§)")
REF = re.compile(r"§\s?(\d+[a-z]?(?:\.\d+)?)(?:\s*[–-]\s*(\d+[a-z]?(?:\.\d+)?))?")  # "§" then a number


def sections(doc: Path) -> set[str]:
    """§-numbers a document has: numbered headings, and the numbered list items directly inside them."""
    found: set[str] = set()
    heading = None
    for line in doc.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"#{1,6}\s+(\d+[a-z]?)\.\s", line):
            heading = m.group(1)
            found.add(heading)
        elif (m := re.match(r"(\d+)\.\s", line)) and heading:
            found.add(f"{heading}.{m.group(1)}")
    return found


def citations(path: Path) -> list[tuple[int, str | None, str]]:
    """(line number, document name or None, section) of every "§ number" in `path`."""
    own = path.stem if path.parent == ROOT / "docs" and path.suffix == ".md" else None
    out: list[tuple[int, str | None, str]] = []
    before = None  # the last document named on the previous line
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        docs = [(m.end(), m.group(1)) for m in DOC.finditer(line)]
        for m in REF.finditer(line):
            named = [name for end, name in docs if end <= m.start()]
            doc = named[-1] if named else before or own
            first, last = m.groups()
            out.append((number, doc, first))
            if last:
                if "." in first and "." not in last:
                    last = f"{first.split('.')[0]}.{last}"
                out.append((number, doc, last))
        before = docs[-1][1] if docs else None
    return out


def repository_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP or part.startswith(".venv") for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in TEXT or path.name == "Makefile") and path != Path(__file__):
            files.append(path)
    return sorted(files)


def test_every_citation_names_an_existing_section():
    known = {doc.stem: sections(doc) for doc in (ROOT / "docs").glob("*.md")}
    assert {"1", "4", "4b", "6", "6.1", "6.6", "9"} <= known["spec"]
    cited, broken = 0, []
    for path in repository_files():
        for number, doc, section in citations(path):
            cited += 1
            where = f"{path.relative_to(ROOT)}:{number}"
            if doc is None:
                broken.append(f"{where}: '§{section}' names no document (write docs/spec.md §N)")
            elif doc not in known:
                broken.append(f"{where}: docs/{doc}.md does not exist")
            elif section not in known[doc]:
                broken.append(f"{where}: docs/{doc}.md has no §{section}")
    assert not broken, "\n".join(broken)
    assert cited >= 25


def test_a_citation_reads_its_document_and_sections(tmp_path):
    """The rules above, on made-up lines: a bare § outside docs/ and an unknown section are caught."""
    doc = tmp_path / "spec.md"
    doc.write_text("# Title\n## 4. Reading\n1. one\n### 4b. Forms API\n## 6. Scoring\n1. a\n2. b\n3. c\n",
                   encoding="utf-8")
    assert sections(doc) == {"4", "4.1", "4b", "6", "6.1", "6.2", "6.3"}
    code = tmp_path / "x.py"
    code.write_text('"""docs/spec.md §4 duplicates, §6.1 verdict; docs/spec.md §6.1–6.3,\n§6 again."""\n'
                    '# SPEC §7, "§N" is no citation\n', encoding="utf-8")
    assert citations(code) == [(1, "spec", "4"), (1, "spec", "6.1"), (1, "spec", "6.1"), (1, "spec", "6.3"),
                               (2, "spec", "6"), (3, None, "7")]
