"""Alert sinks: the log, a webhook (JSON POST), e-mail over SMTP.

A sink that fails (the receiver is down, the SMTP server refuses) never stops the monitor:
the failure is recorded with the alert and logged.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
from email.message import EmailMessage
from typing import Any

from podium.deploy.watch_spec import EmailSink, WebhookSink

log = logging.getLogger("podium.alerts")


def deliver(
    sink: str, spec: WebhookSink | EmailSink | None, alert: dict[str, Any]
) -> dict[str, Any]:
    """Send ``alert`` to one sink; return ``{"sink", "ok", "detail"}``."""
    try:
        if spec is None:  # the built-in "log" sink
            level = logging.ERROR if alert["severity"] == "critical" else logging.WARNING
            log.log(level, "%s", summary(alert))
            return {"sink": sink, "ok": True, "detail": "logged"}
        if isinstance(spec, WebhookSink):
            return {"sink": sink, "ok": True, "detail": webhook(spec, alert)}
        return {"sink": sink, "ok": True, "detail": email(spec, alert)}
    except Exception as exc:  # a sink must never take the monitor down
        log.warning("Alert %r not delivered to %r: %s", alert["rule"], sink, exc)
        return {"sink": sink, "ok": False, "detail": f"{type(exc).__name__}: {exc}"}


def summary(alert: dict[str, Any]) -> str:
    value = alert["value"]
    shown = "n/a" if value is None else f"{value:.4g}"
    return (
        f"[{alert['severity']}] {alert['deployment']}: {alert['rule']}: {alert['figure']} = "
        f"{shown} {alert['op']} {alert['threshold']:g}"
    )


def webhook(spec: WebhookSink, alert: dict[str, Any]) -> str:
    import httpx

    r = httpx.post(
        spec.url,
        content=json.dumps(alert, default=str),
        headers={"content-type": "application/json", **spec.headers},
        timeout=spec.timeout_s,
    )
    r.raise_for_status()
    return f"HTTP {r.status_code}"


def email(spec: EmailSink, alert: dict[str, Any]) -> str:
    msg = EmailMessage()
    msg["Subject"] = f"podium alert: {summary(alert)}"
    msg["From"] = spec.sender
    msg["To"] = ", ".join(spec.to)
    msg.set_content(summary(alert) + "\n\n" + json.dumps(alert, indent=2, default=str))
    with smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout_s) as smtp:
        if spec.starttls:
            smtp.starttls()
        if spec.username:
            password = os.environ.get(spec.password_env or "", "")
            smtp.login(spec.username, password)
        refused = smtp.send_message(msg)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
    return f"sent to {len(spec.to)} recipient(s)"
