"""``chaoslab import``: experiments written for other tools, as scenarios of the lab.

Chaos Toolkit (:mod:`~scenarios.importers.chaostoolkit`): the experiment is
read with every value's JSON path (:mod:`~scenarios.importers.experiment`);
steady-state probes become expectations (:mod:`~scenarios.importers.probes`);
chaostoolkit-toxiproxy and process actions become events
(:mod:`~scenarios.importers.actions`) placed on a timeline by the method's
pauses, the rollbacks checked against the lab's undos
(:mod:`~scenarios.importers.timeline`); the scenario is written with a header
saying where it came from (:mod:`~scenarios.importers.document`), atomically
and only once it validates (:mod:`~scenarios.importers.command`). The mapping
is documented in docs/chaostoolkit.md.
"""

from __future__ import annotations

from scenarios.importers.chaostoolkit import (
    Imported,
    ImportOptions,
    import_experiment,
    startable,
)
from scenarios.importers.command import add_parser, cmd_chaostoolkit, default_out, write_scenario
from scenarios.importers.document import render
from scenarios.importers.exceptions import ExperimentRejected, Finding, ImporterError

__all__ = [
    "ExperimentRejected",
    "Finding",
    "ImportOptions",
    "Imported",
    "ImporterError",
    "add_parser",
    "cmd_chaostoolkit",
    "default_out",
    "import_experiment",
    "render",
    "startable",
    "write_scenario",
]
