"""Failure is loud: `on_failure` and `on_crashed` hooks that e-mail the analyst the flow-run link and the one-line
reason, so nobody has to watch the UI to learn that a scheduled run did not happen.

    @flow(..., on_failure=[notify_analyst], on_crashed=[notify_analyst])

The analyst is `ANTT_ANALYST_EMAIL`, else the run's `analyst` parameter, else the office's `contact_email` in the
run's config. The notice goes through the outbox (`antt.mail.outbox.send_now`) with the `ANTT_SMTP_*` settings, and
with no once-a-day rule: every failure is news. A hook never raises: when the mail cannot go, the run's log says why,
and the run keeps its own state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from antt.i18n import _
from antt.mail.message import Message, render_text
from antt.mail.outbox import SmtpSettings, send_now
from antt.text import is_address, one_line

REASON_MAX = 500


def analyst_address(parameters: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> str | None:
    """Who hears about a failed run: the environment, the run's `analyst` parameter, then the office contact."""
    for candidate in (environ.get("ANTT_ANALYST_EMAIL", "").strip(), parameters.get("analyst") or ""):
        if candidate:
            return candidate
    from antt.config import load_config

    try:
        return load_config(parameters.get("config")).office.contact_email
    except Exception:  # noqa: BLE001 (a broken config may be the very failure being reported)
        return None


def reason_line(message: str | None) -> str:
    """A state message as one line of at most REASON_MAX characters."""
    text = one_line(message or "")
    return text if len(text) <= REASON_MAX else text[:REASON_MAX - 1] + "…"


def failure_message(*, flow_name: str, run_name: str, state: str, reason: str, link: str,
                    parameters: Mapping[str, Any], at: datetime | None, to: str) -> Message:
    """The alarm to the analyst; the wording is `mail_failure.txt.j2`'s, in the catalogs' language."""
    subject, text = render_text("mail_failure.txt.j2", flow_name=flow_name, run_name=run_name, state=state,
                                reason=reason, link=link, parameters=parameters,
                                at=at.strftime("%H:%M:%S %d/%m/%Y (UTC%z)") if at else None)
    return Message(kind="failure", school_code="", to=(to,), subject=subject, text=text, html=None,
                   sender_name="antt", reply_to="")


def _run_link(flow_run) -> str:
    from prefect.settings import get_current_settings

    ui = get_current_settings().ui_url
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else _("flow run {id}").format(id=flow_run.id)


def notify_analyst(flow, flow_run, state) -> None:
    """Prefect hook (on_failure, on_crashed): e-mail the analyst which run failed, why, and its link."""
    from prefect.logging.loggers import flow_run_logger

    logger = flow_run_logger(flow_run, flow)
    parameters = dict(flow_run.parameters or {})
    try:
        to = analyst_address(parameters)
        if not to or not is_address(to):
            logger.warning("no analyst address to report this failure to (set ANTT_ANALYST_EMAIL)")
            return
        settings = SmtpSettings.from_env(default_from=to)
        at = state.timestamp.astimezone() if state.timestamp else None
        message = failure_message(flow_name=flow.name, run_name=flow_run.name, state=state.name,
                                  reason=reason_line(state.message), link=_run_link(flow_run),
                                  parameters=parameters, at=at, to=to)
        [delivery] = send_now([message], settings, at or datetime.now().astimezone())
    except Exception as exc:  # noqa: BLE001 (a hook that raises would only add noise to a failed run)
        logger.warning("could not e-mail the analyst about this failure: %s", reason_line(str(exc)))
        return
    if delivery.status == "sent":
        logger.info("failure e-mailed to %s", to)
    else:
        logger.warning("could not e-mail the analyst about this failure: %s", reason_line(delivery.detail))
