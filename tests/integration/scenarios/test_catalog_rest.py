"""The rest of the catalog, run by ``make test-catalog`` (marker ``catalog``).

Each scenario detects its incident, and its control run does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loader import catalog
from tests.integration.scenarios.test_catalog_runs import (
    HEADLINE,
    check_control,
    check_detected,
)

pytestmark = [pytest.mark.integration, pytest.mark.catalog]

REST = sorted(set(catalog()) - set(HEADLINE))


@pytest.mark.parametrize("scenario", REST)
def test_scenario_detects_its_incident(tmp_path: Path, scenario: str) -> None:
    check_detected(tmp_path, scenario)


@pytest.mark.parametrize("scenario", REST)
def test_control_run_does_not_detect(tmp_path: Path, scenario: str) -> None:
    check_control(tmp_path, scenario)
