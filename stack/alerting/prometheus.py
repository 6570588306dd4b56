"""Prometheus 2.x (Debian package ``prometheus``) as a local-stack component.

The config is generated: every job scrapes ``/metrics`` on one loopback
target each second, rules are evaluated each second (the rule group in
``compose/prometheus/alerts.yml`` sets no ``interval:`` and relies on it),
and alerts go to one Alertmanager. ``promtool check config`` validates the
file (and the rule files) before the server starts.

Rule files may be written in production time (``[15m]``, ``for: 5m``), as the
bundled :data:`ALERT_RULES` are; the lab then loads them at a *rule time
scale* (:data:`BUNDLED_RULE_SCALE` = 1/30 for the bundled file). At scale 1
the config references each rule file by absolute path; at any other scale
:class:`PrometheusServer` writes a copy of each, every duration scaled
(:func:`stack.alerting.timescale.scale_rule_file`), under
``<state_dir>/rules/`` and references the copies. Either way
:meth:`PrometheusServer.reload` picks up edits to the source files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import httpx
import yaml

from stack.alerting.component import (
    PROMETHEUS_INSTALL_HINT,
    LoopbackServer,
    require_binary,
    run_check,
)
from stack.alerting.timescale import scale_rule_file
from stack.exceptions import ComponentFailed, RuleScaleError

COMPONENT = "prometheus"
INSTALL_HINT = PROMETHEUS_INSTALL_HINT
REPO_ROOT = Path(__file__).resolve().parents[2]
ALERT_RULES = REPO_ROOT / "compose" / "prometheus" / "alerts.yml"
# ALERT_RULES is written in production windows ([15m], `for: 5m`); the lab
# loads it 30 times faster ([30s], `for: 10s`).
BUNDLED_RULE_SCALE = Fraction(1, 30)
CONFIG_FILENAME = "prometheus.yml"
RULES_DIRNAME = "rules"
_STAGING_DIRNAME = ".staging"


@dataclass(frozen=True)
class PrometheusConfig:
    """What goes into the generated ``prometheus.yml``.

    ``scrape_targets`` maps a job name to its ``127.0.0.1:PORT``; ``alertmanager``
    is ``127.0.0.1:PORT`` or None for no alerting section.
    """

    scrape_targets: Mapping[str, str]
    rule_files: tuple[Path, ...] = ()
    alertmanager: str | None = None
    scrape_interval_s: int = 1
    scrape_timeout_s: int = 1
    evaluation_interval_s: int = 1
    metrics_paths: tuple[str, ...] = ("/metrics",)
    external_labels: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"lab": "chaoslab"})
    )

    def __post_init__(self) -> None:
        if self.scrape_timeout_s > self.scrape_interval_s:
            raise ValueError("scrape_timeout_s must not exceed scrape_interval_s")
        object.__setattr__(self, "scrape_targets", MappingProxyType(dict(self.scrape_targets)))
        resolved = tuple(Path(path).resolve() for path in self.rule_files)
        object.__setattr__(self, "rule_files", resolved)

    def to_yaml(self) -> str:
        """The config file text (YAML, keys in Prometheus's documented order)."""
        return yaml.safe_dump(self.to_document(), sort_keys=False)

    def to_document(self) -> dict[str, object]:
        """The mapping :meth:`to_yaml` dumps (the compose stack's config reuses it)."""
        document: dict[str, object] = {
            "global": {
                "scrape_interval": f"{self.scrape_interval_s}s",
                "scrape_timeout": f"{self.scrape_timeout_s}s",
                "evaluation_interval": f"{self.evaluation_interval_s}s",
                "external_labels": dict(self.external_labels),
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {
                    # A second metrics path of one service is a job of its own.
                    "job_name": job if index == 0 else f"{job}-{index + 1}",
                    "metrics_path": path,
                    "static_configs": [{"targets": [target]}],
                }
                for job, target in self.scrape_targets.items()
                for index, path in enumerate(self.metrics_paths)
            ],
        }
        if self.alertmanager is not None:
            document["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]
            }
        return document


class PrometheusServer(LoopbackServer):
    """``prometheus`` on a free loopback port with its TSDB under ``state_dir``.

    Use as a context manager or ``start()``/``stop()``; ``reload()`` re-reads
    the config and rule files (``--web.enable-lifecycle``).

    ``rule_time_scale`` (a Fraction in (0, 1]) multiplies every duration of
    every rule file: pass :data:`BUNDLED_RULE_SCALE` with :data:`ALERT_RULES`.
    Below 1, scaled copies are written (and checked with ``promtool check
    rules``) before every start and reload; a scale that would leave a range
    or subquery window shorter than two scrape intervals, or a rule file the
    scaler cannot parse, raises :class:`stack.exceptions.RuleScaleError` and
    nothing is started or reloaded. :attr:`loaded_rule_files` and
    :attr:`rule_time_scale` say what Prometheus loads, for the journal.

    ``console_templates`` and ``console_libraries`` are the directories of
    console pages (served at ``/consoles/<file>``) and of the ``*.lib`` files
    they use (see :mod:`stack.consoles`); None keeps Prometheus's defaults.
    """

    component = COMPONENT

    def __init__(
        self,
        state_dir: Path,
        scrape_targets: Mapping[str, str],
        rule_files: Sequence[Path] = (ALERT_RULES,),
        alertmanager: str | None = None,
        port: int = 0,
        startup_timeout: float = 30.0,
        rule_time_scale: Fraction = Fraction(1),
        metrics_paths: Sequence[str] = ("/metrics",),
        console_templates: Path | None = None,
        console_libraries: Path | None = None,
    ) -> None:
        super().__init__(state_dir, port, startup_timeout)
        self.console_templates = console_templates
        self.console_libraries = console_libraries
        scale = Fraction(rule_time_scale)
        if not 0 < scale <= 1:
            raise RuleScaleError(
                f"rule time scale {scale} must be greater than 0 and at most 1 "
                f"(e.g. {BUNDLED_RULE_SCALE} runs production rules 30 times faster)"
            )
        self._rule_time_scale = scale
        self._rule_files = tuple(Path(path).resolve() for path in rule_files)
        loaded = self._rule_files
        if scale != 1:
            loaded = tuple(
                self.rules_dir / f"{index}-{path.name}"
                for index, path in enumerate(self._rule_files)
            )
        self.config = PrometheusConfig(
            scrape_targets=scrape_targets,
            rule_files=loaded,
            alertmanager=alertmanager,
            metrics_paths=tuple(metrics_paths),
        )

    @property
    def config_path(self) -> Path:
        return self.state_dir / CONFIG_FILENAME

    @property
    def tsdb_path(self) -> Path:
        return self.state_dir / "tsdb"

    @property
    def rules_dir(self) -> Path:
        """Where the scaled copies of the rule files go (unused at scale 1)."""
        return self.state_dir / RULES_DIRNAME

    @property
    def rule_files(self) -> tuple[Path, ...]:
        """The rule files as given (absolute), before any scaling."""
        return self._rule_files

    @property
    def rule_time_scale(self) -> Fraction:
        """What every duration of :attr:`rule_files` is multiplied by when loaded."""
        return self._rule_time_scale

    @property
    def loaded_rule_files(self) -> tuple[Path, ...]:
        """The files Prometheus loads, one per :attr:`rule_files` entry and in its order.

        The source files themselves at scale 1, else their scaled copies
        ``<state_dir>/rules/<index>-<name>`` (written by :meth:`write_config`).
        """
        return self.config.rule_files

    def write_config(self) -> Path:
        """Write the scaled rule copies (if any) and ``prometheus.yml``; promtool checks both."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        promtool = require_binary("promtool", INSTALL_HINT)
        self._write_scaled_rules(promtool)
        self.config_path.write_text(self.config.to_yaml())
        run_check(COMPONENT, [promtool, "check", "config", str(self.config_path)])
        return self.config_path

    def _write_scaled_rules(self, promtool: str) -> None:
        """Scale every rule file into a staging directory, then move all copies into place.

        A rejected file leaves the copies a running server loaded untouched (and
        the rejected copy in the staging directory, which the error names).
        """
        if self._rule_time_scale == 1:
            return
        staging = self.rules_dir / _STAGING_DIRNAME
        shutil.rmtree(staging, ignore_errors=True)
        staged = [staging / loaded.name for loaded in self.loaded_rule_files]
        for source, copy in zip(self._rule_files, staged, strict=True):
            scale_rule_file(
                source,
                copy,
                self._rule_time_scale,
                scrape_interval_s=self.config.scrape_interval_s,
                promtool=promtool,
            )
        for copy, loaded in zip(staged, self.loaded_rule_files, strict=True):
            os.replace(copy, loaded)
        shutil.rmtree(staging, ignore_errors=True)
        for stale in self.rules_dir.iterdir():  # copies of a rule list this server no longer has
            if stale.is_file() and stale.resolve() not in self.loaded_rule_files:
                stale.unlink()

    def prepare(self) -> list[str]:
        binary = require_binary("prometheus", INSTALL_HINT)
        self.write_config()
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.tsdb_path}",
            "--storage.tsdb.retention.time=1d",
            # Re-send firing alerts every second: one dropped before Alertmanager
            # was discovered would otherwise wait a minute.
            "--rules.alert.resend-delay=1s",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}/",
            "--web.enable-lifecycle",
            "--log.level=info",
            *self._console_flags(),
        ]

    def _console_flags(self) -> list[str]:
        flags = []
        if self.console_templates is not None:
            flags.append(f"--web.console.templates={self.console_templates}")
        if self.console_libraries is not None:
            flags.append(f"--web.console.libraries={self.console_libraries}")
        return flags

    def reload(self, timeout: float = 10.0) -> None:
        """Re-scale the rule files, re-validate the config, then ``POST /-/reload``.

        A rejection by promtool or Prometheus is ComponentFailed; a rule file
        that cannot be scaled is RuleScaleError (and nothing is reloaded).
        """
        self.write_config()
        try:
            response = httpx.post(self.url + "/-/reload", timeout=timeout)
        except httpx.HTTPError as exc:
            raise self._failure(f"reload request failed: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise self._failure(f"reload answered {response.status_code}: {response.text.strip()}")

    def _failure(self, reason: str) -> ComponentFailed:
        if self.process is None:
            return ComponentFailed(COMPONENT, reason, [], "    (not started)")
        return self.process.failure(reason)


__all__ = ["ALERT_RULES", "BUNDLED_RULE_SCALE", "PrometheusConfig", "PrometheusServer"]
