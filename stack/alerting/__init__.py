"""Prometheus, Alertmanager and the lab's alert webhook as local-stack components.

* :class:`PrometheusServer` — ``prometheus`` scraping loopback targets every
  1 s, evaluating rule files every 1 s, optionally at a rule time scale: the
  bundled ``compose/prometheus/alerts.yml`` (:data:`ALERT_RULES`) is written
  in production windows and loaded at :data:`BUNDLED_RULE_SCALE` (1/30) by
  copies that :mod:`stack.alerting.timescale` rewrites.
* :class:`AlertmanagerServer` — ``prometheus-alertmanager``, gossip off,
  routing every alert to one webhook.
* :class:`AlertWebhook` — the webhook receiver that records each notification
  with its arrival time (``notifications.jsonl``).

Each has ``url``, ``pid``, ``start_time``, ``healthy()``, ``start()``,
``stop()`` and is a context manager. Errors are :mod:`stack.exceptions`'s
``BinaryNotFound`` and ``ComponentFailed``.
"""

from stack.alerting.alertmanager import AlertmanagerConfig, AlertmanagerServer
from stack.alerting.component import LoopbackServer
from stack.alerting.journal import NotificationLog
from stack.alerting.payload import FIRING, RESOLVED, Alert, AlertmanagerPayload, Notification
from stack.alerting.prometheus import (
    ALERT_RULES,
    BUNDLED_RULE_SCALE,
    PrometheusConfig,
    PrometheusServer,
)
from stack.alerting.timescale import parse_scale, scale_expr, scale_rule_file, scale_rules
from stack.alerting.webhook import AlertWebhook

__all__ = [
    "ALERT_RULES",
    "BUNDLED_RULE_SCALE",
    "FIRING",
    "RESOLVED",
    "Alert",
    "AlertWebhook",
    "AlertmanagerConfig",
    "AlertmanagerPayload",
    "AlertmanagerServer",
    "LoopbackServer",
    "Notification",
    "NotificationLog",
    "PrometheusConfig",
    "PrometheusServer",
    "parse_scale",
    "scale_expr",
    "scale_rule_file",
    "scale_rules",
]
