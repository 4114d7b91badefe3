"""Failure is loud: `on_failure` and `on_crashed` hooks that e-mail the analyst the flow-run link and the one-line
reason, so nobody has to watch the UI to learn that a scheduled run did not happen.

    @flow(..., on_failure=[notify_analyst], on_crashed=[notify_analyst])

The analyst is `ANTT_ANALYST_EMAIL`, else the run's `analyst` parameter, else the office's `contact_email` in the
run's config. SMTP settings are the `ANTT_SMTP_*` variables of the mail edge. A hook never raises: when the mail
cannot go, the run's log says why, and the run keeps its own state.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from antt.mail.outbox import POLICY, TIMEOUT_S, SmtpSettings
from antt.outputs.render import template
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
                    parameters: Mapping[str, Any], at: datetime | None, mail_from: str, to: str) -> EmailMessage:
    """The alarm as an RFC 5322 message; the wording is `mail_failure.txt.j2`."""
    module = template("mail_failure.txt.j2").make_module(dict(
        flow_name=flow_name, run_name=run_name, state=state, reason=reason, link=link, parameters=parameters,
        at=at.strftime("%H:%M:%S %d/%m/%Y (UTC%z)") if at else None))
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(str(module.subject))
    msg["From"] = Address(display_name="antt", addr_spec=mail_from)
    msg["To"] = Address(addr_spec=to)
    msg["Date"] = format_datetime(at or datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(str(module).strip() + "\n")
    return msg


def _send(msg: EmailMessage, settings: SmtpSettings) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(msg)


def _run_link(flow_run) -> str:
    from prefect.settings import get_current_settings

    ui = get_current_settings().ui_url
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else f"flow run {flow_run.id}"


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
        msg = failure_message(flow_name=flow.name, run_name=flow_run.name, state=state.name,
                              reason=reason_line(state.message), link=_run_link(flow_run), parameters=parameters,
                              at=at, mail_from=settings.mail_from, to=to)
        _send(msg, settings)
        logger.info("failure e-mailed to %s", to)
    except Exception as exc:  # noqa: BLE001 (a hook that raises would only add noise to a failed run)
        logger.warning("could not e-mail the analyst about this failure: %s", reason_line(str(exc)))
