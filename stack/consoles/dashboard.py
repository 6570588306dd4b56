"""The responders' dashboard: a Prometheus console page generated from a target profile.

:func:`render_console` turns the profile's ``dashboard`` panels (or, without
any, the generic scrape-health panel) and the stack's links into the text of
``chaoslab.html``, a Go ``html/template`` that Prometheus serves at
``/consoles/chaoslab.html`` once started with ``--web.console.templates`` and
``--web.console.libraries`` (:func:`write_consoles` writes both directories).

The page graphs each panel over the last 15 minutes (``PromConsole.Graph``),
shows its current value, and lists the firing and pending alerts (Go template
``query "ALERTS"``); it refreshes itself every 10 s.

Escaping: the template is Jinja (delimiters ``[[ ]]``, ``[% %]``, ``[# #]``, so
Go's ``{{ }}`` pass through) and every value from the profile is written as a
Go string literal inside a Go action (the ``go`` filter), never as template
text; Prometheus's ``html/template`` then escapes it for where it lands. A
``{{`` in a title, a ``</script>`` in a description or a quote in a query is
shown as written. A plain string reaching the output any other way raises
:class:`TypeError` at generation time.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2

from stack.profile import DashboardPanel, TargetProfile, job_value

CONSOLE_FILE: Final = "chaoslab.html"
LIBRARY_FILE: Final = "chaoslab.lib"
TEMPLATES_DIRNAME: Final = "consoles"
LIBRARIES_DIRNAME: Final = "console_libraries"
_HERE = Path(__file__).resolve().parent
_TEMPLATE = "chaoslab.html.j2"
_IDENT = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Panel:
    """A panel as the page shows it: its query with ``$job`` filled in."""

    title: str
    query: str
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Link:
    """A link in the page's header (``key`` is its element id suffix)."""

    key: str
    label: str
    url: str


@dataclass(frozen=True)
class Links:
    """Where the rest of the stack answers; an empty URL leaves its link out."""

    alertmanager_url: str = ""
    bugsink_url: str = ""
    traces_url: str = ""

    def header(self) -> list[Link]:
        links = [Link("prometheus", "Prometheus graph", "/graph")]
        if self.alertmanager_url:
            links.append(Link("alertmanager", "Alertmanager", self.alertmanager_url + "/#/alerts"))
            # Debian's prometheus-alertmanager has no web UI (its page says so): the API lists.
            api = self.alertmanager_url + "/api/v2/alerts"
            links.append(Link("alertmanager-api", "Alertmanager alerts (JSON)", api))
        if self.bugsink_url:
            links.append(Link("bugsink", "Bugsink issues", self.bugsink_url))
        if self.traces_url:
            links.append(Link("traces", "Trace search", self.traces_url + "/search"))
        return links


@dataclass(frozen=True)
class Consoles:
    """The directories Prometheus is started with, and the page's path under its URL."""

    templates: Path
    libraries: Path

    @property
    def page(self) -> Path:
        return self.templates / CONSOLE_FILE

    @staticmethod
    def url(prometheus_url: str) -> str:
        """The dashboard's address on the Prometheus at ``prometheus_url``."""
        return f"{prometheus_url.rstrip('/')}/consoles/{CONSOLE_FILE}"


def up_query(job: str) -> str:
    return f'up{{job="{job_value(job)}"}}'


def panels_of(profile: TargetProfile) -> list[Panel]:
    """The profile's panels with ``$job`` filled in; without any, the scrape-health panel."""
    job = profile.job_name
    if not profile.dashboard:
        return [
            Panel(
                "Scrape health",
                up_query(job),
                "count",
                f"1 while Prometheus scrapes job {job}, 0 when a scrape fails",
            )
        ]
    return [_panel(panel, job) for panel in profile.dashboard]


def _panel(panel: DashboardPanel, job: str) -> Panel:
    return Panel(panel.title, panel.query_for(job), panel.unit or "", panel.description)


class _Literal(str):
    """Text that may go into the generated Go template as it is."""

    __slots__ = ()


def go_string(value: object) -> _Literal:
    """``value`` as a Go string literal (double-quoted; JSON's escapes are Go's too)."""
    return _Literal(json.dumps(str(value), ensure_ascii=False))


def _ident(value: object) -> _Literal:
    text = str(value)
    if not _IDENT.match(text):
        raise ValueError(f"{text!r} is not an identifier")
    return _Literal(text)


def _finalize(value: object) -> object:
    if isinstance(value, _Literal | int):
        return value
    raise TypeError(f"{value!r} reached the console template unescaped: use |go")


def environment() -> jinja2.Environment:
    """The Jinja environment of the console templates (delimiters and filters: module doc)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        # Values are Go string literals (see the module doc): HTML-escaping them
        # here would corrupt them; Go's html/template escapes them when served.
        autoescape=False,  # noqa: S701 - see the comment above
    )
    env.filters["go"] = go_string
    env.filters["go_id"] = _ident
    return env


def render_console(profile: TargetProfile, links: Links) -> str:
    """The text of ``chaoslab.html`` for ``profile`` (see the module doc)."""
    template = environment().get_template(_TEMPLATE)
    return template.render(
        page_title=f"chaoslab · {profile.name}",
        target=profile.name,
        description=profile.description,
        job=profile.job_name,
        up_query=up_query(profile.job_name),
        links=links.header(),
        panels=panels_of(profile),
    )


def write_consoles(directory: Path, profile: TargetProfile, links: Links) -> Consoles:
    """Write the page and its library under ``directory``; what to start Prometheus with."""
    consoles = Consoles(directory / TEMPLATES_DIRNAME, directory / LIBRARIES_DIRNAME)
    consoles.templates.mkdir(parents=True, exist_ok=True)
    consoles.libraries.mkdir(parents=True, exist_ok=True)
    consoles.page.write_text(render_console(profile, links))
    shutil.copyfile(_HERE / LIBRARY_FILE, consoles.libraries / LIBRARY_FILE)
    return consoles
