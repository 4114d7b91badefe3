"""Form as code: `config/form.yaml` and the school registry → the form schools fill; `config/reply_form.yaml` → the
form a school corrects its draft scorecard with (`--form reply`).

Three exports, one source: a Google Apps Script that creates the Google Form and its response sheet, an XLSForm for
ODK/KoboToolbox, and a one-school Excel template for schools without a good connection (read back by
`antt.sources.folder`). Every export titles each question "ID. label", so responses from any of them match the
same header rules (docs/spec.md §4).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from antt.config import Config
from antt.errors import AnttError
from antt.forms.apps_script import apps_script
from antt.forms.template import write_template
from antt.forms.xlsform import write_xlsform
from antt.i18n import _

FORMATS = ("apps-script", "xlsform", "xlsx-template")
# The report form schools fill (config/form.yaml) and the reply form they correct a draft with (reply_form.yaml).
FORMS = ("report", "reply")
DEFAULT_NAMES = {
    "report": {"apps-script": "antt-form.js", "xlsform": "antt-xlsform.xlsx", "xlsx-template": "bao-cao-antt.xlsx"},
    "reply": {"apps-script": "antt-reply-form.js", "xlsform": "antt-reply-xlsform.xlsx",
              "xlsx-template": "phan-hoi-antt.xlsx"},
}


def export_form(config: Config, registry: pd.DataFrame, fmt: str, dest: Path, which: str = "report") -> Path:
    """Write form `which` (FORMS) in `fmt` to `dest` and return the file's path.

    A `dest` that is a folder, or has no file extension, gets the format's standard file name inside it.
    """
    if fmt not in FORMATS:
        raise AnttError(_("unknown form format {format!r} (expected one of {formats})")
                        .format(format=fmt, formats=", ".join(FORMATS)))
    if which not in FORMS:
        raise AnttError(_("unknown form {form!r} (expected one of {forms})")
                        .format(form=which, forms=", ".join(FORMS)))
    if which == "reply":
        # Every export reads config.form: the reply form takes its place, the rest of the config stays.
        config = config.model_copy(update={"form": config.reply_form})
    dest = Path(dest)
    if dest.is_dir() or not dest.suffix:
        dest = dest / DEFAULT_NAMES[which][fmt]
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "apps-script":
        dest.write_text(apps_script(config, registry, which), encoding="utf-8")
        return dest
    if fmt == "xlsform":
        return write_xlsform(config, registry, dest, which)
    return write_template(config, registry, dest)


def export_steps(fmt: str, path: Path, which: str = "report") -> list[str]:
    """What to do with the exported file of form `which`, step by step, for the person who ran the export."""
    link = _("Put the form's link in config/office.yaml as reply_form_url: the draft scorecards carry it.")
    if fmt == "apps-script":
        steps = [
            _("Open https://script.google.com with the Google account that will own the form, and click New project."),
            _("Replace the editor's contents with the whole of {path} and save (Ctrl+S)."),
            _("Choose the function createAnttForm in the toolbar and click Run."),
            _("Authorise the script when Google asks (it creates one form and one spreadsheet in your Drive)."),
            _("Open the Execution log: it shows the link to send to the schools, the form's edit link and the "
              "response sheet's link."),
        ]
        steps += [_("Give the response sheet's key to `antt run --source gsheet:KEY` (share the sheet with the "
                    "service account's e-mail first).")] if which == "report" else [
            link, _("Give the response sheet's key to `antt run --replies gsheet:KEY` (share the sheet with the "
                    "service account's e-mail first).")]
    elif fmt == "xlsform":
        steps = [
            _("KoboToolbox: New project → Upload an XLSForm → choose {path}, then Deploy."),
            _("ODK Central: New form → upload {path}, then Publish and share the link or QR code."),
            _("Respondents pick their school's level first; the school list and the questions follow it."),
        ] + ([] if which == "report" else [link])
    elif which == "report":
        steps = [
            _("Send {path} to each school that cannot use the online form."),
            _("The school fills the yellow cells (sending date, registered e-mail, answers) and e-mails the file "
              "back."),
            _("Save the returned files, one per school, in one folder, and run `antt run --cycle CYCLE --source "
              "FOLDER` on that folder."),
        ]
    else:
        steps = [
            _("Send {path} with the draft scorecard to each school that cannot use the online reply form."),
            _("The school fills the yellow cells (sending date, registered e-mail, one correction) and e-mails the "
              "file back, one file per answer to correct."),
            _("Save the returned files in one folder and give it to `antt run --cycle CYCLE --replies FOLDER`."),
        ]
    return [step.format(path=path) for step in steps]
