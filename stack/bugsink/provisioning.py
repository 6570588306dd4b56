"""What a fresh Bugsink gets: an admin user, a team, a project and an API token.

Provisioning runs once, when the migrated template is built, as a short
script in ``manage.py shell -c`` with Bugsink's own models (the same steps as
its "new team" / "new project" views: the creator becomes an accepted admin
member of both). Names and the password come in through the environment, the
result comes back as one JSON line on stdout.

Each server start copies the template and then gives its copy a fresh API
token (:func:`rotate_token`), so no two running instances share a credential.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from stack.bugsink.config import DB_FILE
from stack.bugsink.manage import manage
from stack.bugsink.release import COMPONENT
from stack.bugsink.venv import BugsinkVenv
from stack.exceptions import ComponentFailed
from stack.ports import LOOPBACK

ADMIN_EMAIL = "admin@chaoslab.invalid"
TEAM_NAME = "chaoslab"
PROJECT_NAME = "target"
#: Stored events per project before Bugsink evicts old ones (default 10 000).
RETENTION_MAX_EVENTS = 1_000_000
_MARKER = "CHAOSLAB_PROVISIONED "

PROVISION_SCRIPT = """
import json, os
from django.contrib.auth import get_user_model
from django.db import transaction
from bsmain.models import AuthToken
from projects.models import Project, ProjectMembership, ProjectRole
from teams.models import Team, TeamMembership, TeamRole

env = os.environ
with transaction.atomic():
    user = get_user_model().objects.create_superuser(
        username=env["CHAOSLAB_ADMIN_EMAIL"],
        email=env["CHAOSLAB_ADMIN_EMAIL"],
        password=env["CHAOSLAB_ADMIN_PASSWORD"],
    )
    team = Team.objects.create(name=env["CHAOSLAB_TEAM"])
    TeamMembership.objects.create(team=team, user=user, role=TeamRole.ADMIN, accepted=True)
    project = Project.objects.create(
        team=team,
        name=env["CHAOSLAB_PROJECT"],
        alert_on_new_issue=False,
        alert_on_regression=False,
        alert_on_unmute=False,
        retention_max_event_count=int(env["CHAOSLAB_RETENTION"]),
    )
    ProjectMembership.objects.create(
        project=project, user=user, role=ProjectRole.ADMIN, accepted=True)
    token = AuthToken.create_full_access(description="chaoslab (full access)")
print("%MARKER%" + json.dumps({
    "admin_email": user.email,
    "team_id": str(team.id),
    "team_name": team.name,
    "project_id": project.id,
    "project_slug": project.slug,
    "sentry_key": project.sentry_key.hex,
    "token_id": token.id,
}))
""".replace("%MARKER%", _MARKER)


class Provisioning(BaseModel):
    """The objects created in the template, and the admin's credentials."""

    model_config = ConfigDict(frozen=True)

    admin_email: str
    admin_password: str
    team_id: str
    team_name: str
    project_id: int
    project_slug: str
    sentry_key: str
    token_id: int

    def dsn(self, port: int) -> str:
        """The project's DSN on ``127.0.0.1:port`` (Bugsink's ``build_dsn`` format)."""
        return f"http://{self.sentry_key}@{LOOPBACK}:{port}/{self.project_id}"


def provision(venv: BugsinkVenv, conf_dir: Path) -> Provisioning:
    """Create user, team, project and token in the configured (migrated) database."""
    password = secrets.token_urlsafe(18)
    out = manage(
        venv,
        conf_dir,
        ["shell", "--no-imports", "-c", PROVISION_SCRIPT],
        what="provisioning (manage.py shell)",
        extra_env={
            "CHAOSLAB_ADMIN_EMAIL": ADMIN_EMAIL,
            "CHAOSLAB_ADMIN_PASSWORD": password,
            "CHAOSLAB_TEAM": TEAM_NAME,
            "CHAOSLAB_PROJECT": PROJECT_NAME,
            "CHAOSLAB_RETENTION": str(RETENTION_MAX_EVENTS),
        },
    )
    for line in out.splitlines():
        if line.startswith(_MARKER):
            created = json.loads(line.removeprefix(_MARKER))
            return Provisioning.model_validate({**created, "admin_password": password})
    raise ComponentFailed(COMPONENT, "provisioning printed no result", ["manage.py", "shell"], out)


def rotate_token(data_dir: Path, token_id: int) -> str:
    """Give the copied database's API token a fresh value; return it.

    Same format as Bugsink's ``generate_token`` (40 hex characters).
    """
    token = secrets.token_hex(20)
    with sqlite3.connect(data_dir / DB_FILE) as db:
        cursor = db.execute("UPDATE bsmain_authtoken SET token = ? WHERE id = ?", (token, token_id))
        updated = cursor.rowcount
    db.close()
    if updated != 1:
        raise ComponentFailed(
            COMPONENT,
            f"API token {token_id} not found in the copied database",
            ["sqlite3", str(data_dir / DB_FILE)],
            "    (bsmain_authtoken has no such row)",
        )
    return token
