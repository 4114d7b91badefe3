"""Build hook: compile the gettext catalogs (antt/locale/*/LC_MESSAGES/antt.po → .mo) into every wheel and editable
install, with Babel, as `make` does for a checkout."""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogsHook(BuildHookInterface):
    PLUGIN_NAME = "catalogs"

    def initialize(self, version: str, build_data: dict) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(self.root, "antt", "locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as fh:
                messages = read_po(fh)
            with po.with_suffix(".mo").open("wb") as fh:
                write_mo(fh, messages)
        build_data["artifacts"].append("antt/locale/*/LC_MESSAGES/*.mo")  # ignored by git, shipped in the wheel
