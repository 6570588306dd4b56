"""A throwaway PostgreSQL 15 cluster on loopback.

``initdb --auth=trust --no-sync`` into a fresh directory under the system temp
dir, then the ``postgres`` server in the foreground with ``fsync=off`` on a
free 127.0.0.1 port and a private socket directory. PostgreSQL refuses to run
as root, so when we are root it runs as the ``postgres`` system user, and its
directories live where that user can reach them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stack.exceptions import BinaryNotFound, ComponentFailed
from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess, make_scratch_dir, run

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
INSTALL_HINT = "Install it with: apt-get install postgresql (Debian) — or run `make run`."
DATABASE = "chaoslab"


def pg_binary(name: str) -> str:
    """Absolute path of a PostgreSQL server binary (initdb, postgres, pg_isready)."""
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BinaryNotFound(name, INSTALL_HINT)
    return found


def _run_as() -> str | None:
    """The system user to run the server as: ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise BinaryNotFound("postgres (system user)", INSTALL_HINT) from exc
    return "postgres"


def _initdb(data_dir: Path, user: str | None) -> None:
    argv = [
        pg_binary("initdb"),
        "--auth=trust",
        "--no-sync",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C",
        "-D",
        str(data_dir),
    ]
    result = run(argv, capture_output=True, text=True, user=user, check=False, timeout=120)
    if result.returncode != 0:
        raise ComponentFailed(
            "postgres", "initdb failed", argv, (result.stdout + result.stderr)[-2000:]
        )


def cluster_template(user: str | None) -> Path:
    """A freshly initdb'd data directory, made once per machine and copied for each cluster.

    Copying it is several times faster than running ``initdb`` again. It lives
    in the system temp dir (where the ``postgres`` user can reach it), named
    after the server version; concurrent first runs each build one and the
    first rename wins.
    """
    version = Path(pg_binary("initdb")).parent.parent.name
    final = Path(tempfile.gettempdir()) / f"chaoslab-pg-template-{version}-{os.geteuid()}"
    if (final / "PG_VERSION").is_file():
        return final
    build = make_scratch_dir(f"{final.name}.build-")
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(build, entry.pw_uid, entry.pw_gid)
    try:
        _initdb(build / "data", user)
        try:
            os.rename(build / "data", final)
        except OSError:
            if not (final / "PG_VERSION").is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return final


@dataclass
class PostgresCluster(Lifecycle):
    """A private PostgreSQL cluster; use as a context manager or start()/stop()."""

    port: int = 0
    max_connections: int = 100
    log_dir: Path | None = None
    root: Path = field(init=False)
    process: ManagedProcess | None = field(default=None, init=False)
    _user: str | None = field(default=None, init=False)
    _log_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.port == 0:
            self.port = free_port()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def host(self) -> str:
        return LOOPBACK

    def dsn(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> None:
        """Create the cluster, start the server and create the ``chaoslab`` database."""
        self._user = _run_as()
        # Announced to the stack (stack.json) before it exists: see make_scratch_dir.
        self.root = make_scratch_dir("chaoslab-pg-")
        self.socket_dir.mkdir()
        self._log_dir = self.log_dir or self.root
        self._log_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
        try:
            template = cluster_template(self._user)
            copy = ["cp", "-a", f"{template}/.", str(self.data_dir)]
            result = run(copy, capture_output=True, text=True, check=False, timeout=120)
            if result.returncode != 0:
                raise ComponentFailed(
                    "postgres", "copying the template failed", copy, result.stderr
                )
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        try:
            self.start_server(timeout)
            self._create_database()
        except BaseException:
            self.stop()
            raise

    def start_server(self, timeout: float = 30.0) -> None:
        """Start the server on the existing cluster (again, after :meth:`stop_server`)."""
        argv = [
            pg_binary("postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        log_path = self._log_dir / "postgres.log"
        self.process = ManagedProcess(
            "postgres", argv, log_path, user=self._user, stop_signal=signal.SIGINT
        )
        self.process.start()
        self.process.wait_healthy(self._ready, timeout)

    def stop_server(self) -> None:
        """Stop the server (fast shutdown) but keep the cluster for :meth:`start_server`."""
        if self.process is not None:
            self.process.stop(grace=10.0)
            self.process = None

    def _ready(self) -> bool:
        probe = [pg_binary("pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-U", "postgres"]
        return run(probe, capture_output=True, check=False, timeout=5).returncode == 0

    def _create_database(self) -> None:
        createdb = [pg_binary("createdb"), "-h", LOOPBACK, "-p", str(self.port), "-U", "postgres"]
        result = run([*createdb, DATABASE], capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise ComponentFailed("postgres", "createdb failed", createdb, result.stderr)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster; idempotent."""
        self.stop_server()
        if hasattr(self, "root"):
            shutil.rmtree(self.root, ignore_errors=True)
