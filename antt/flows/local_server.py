"""Prefect's temporary server for a command-line run: the one Prefect would start, started sooner and cheaper.

With no Prefect server configured, Prefect's first API client starts a temporary server (`SubprocessASGIServer`, a
uvicorn subprocess serving `prefect.server.api.server:create_app` on a free loopback port). Two things make that
slow for a short run: importing `SubprocessASGIServer` imports the whole server into the CLI's process (seconds of
CPU that the CLI needs for its own imports), and a new `PREFECT_HOME` database runs every Alembic migration before
the server answers (about 4 s here, on every new `--out`). So `start()`:

- spawns the same uvicorn command as Prefect (through `uvicorn_main`, which only makes the server's full garbage
  collections as rare as the CLI's) as the command starts, before this process imports pandas or Prefect (the
  server's seconds of booting overlap this process's imports and its check of the input; a run whose input is
  unusable stops it); `connected` then checks Prefect's settings agree and points the flow's client at it, so
  Prefect starts no other;
- gives a new default SQLite database a copy of an empty migrated one (`prefect-<version>.db` in the user's cache
  folder), made by the first run on the machine that migrates one, right after its server first answers: later runs
  skip the migrations (Alembic finds the database at its head), and each `--out` still has its own database;
- ties the server to the CLI: it is stopped at exit, after Prefect's log and event workers have drained (atexit
  runs last what registered first), and on Linux the kernel stops it if the CLI dies first (a killed run leaves no
  server behind).

A configured server (`PREFECT_API_URL`) or a database elsewhere than the default file is used as it is.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from antt.errors import AnttError
from antt.i18n import _

PORT_IN_USE = 3  # uvicorn's exit code when its port is taken; Prefect retries on another port, so do we


class TemporaryServer:
    """A running temporary server: its subprocess, its API URL and the database it serves."""

    def __init__(self, home: Path, env: dict[str, str], template: Path | None, timeout: float) -> None:
        self.home, self.env, self.template, self.timeout = home, env, template, timeout
        database = home / "prefect.db"
        self.fresh = template is not None and not database.exists()
        if self.fresh and template.is_file():
            _copy_atomic(template, database)
            self.fresh = False
        self.process = self._spawn()
        self.ready = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen:
        self.port = _free_port()
        return subprocess.Popen(
            [sys.executable, "-m", "antt.flows.uvicorn_main", "--app-dir", str(_prefect_path().parent), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "error", "--lifespan", "on"],
            env=self.env, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)

    def wait(self) -> None:
        """Block until the server answers its health check; then keep a migrated copy of a new database."""
        import httpx

        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=5) as client:
            while not self.ready:
                code = self.process.poll()
                if code == PORT_IN_USE:
                    self.process = self._spawn()
                    continue
                if code is not None:
                    raise AnttError(_("Prefect's temporary server stopped as it started (exit code {code}); "
                                      "its messages are above").format(code=code))
                if time.monotonic() > deadline:
                    self.stop()
                    raise AnttError(_("Prefect's temporary server did not answer within {seconds} s "
                                      "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")
                                    .format(seconds=round(self.timeout)))
                with contextlib.suppress(httpx.HTTPError):
                    self.ready = client.get(f"{self.api_url}/health").status_code == 200
                if not self.ready:
                    time.sleep(0.05)
        if self.fresh and self.template is not None and (self.home / "prefect.db").is_file():
            _keep_template(self.home / "prefect.db", self.template)
        self.fresh = False

    def abandon(self) -> None:
        """Stop a server the run turned out not to need (its input was unusable). A new database it was still
        migrating goes with it: it holds nothing yet, and a migration cut short is no start for the next run."""
        self.stop()
        if self.fresh:
            for suffix in ("", "-journal", "-wal", "-shm"):
                (self.home / f"prefect.db{suffix}").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_running: TemporaryServer | None = None


def start() -> TemporaryServer | None:
    """Start the temporary server if the flow will need one (no server configured: `configured_api_url`). Prefect
    itself is not imported yet (a second or so the server uses to
    boot): the server gets this process's environment, from which it reads its settings as this process will;
    `connected` checks them against Prefect's once it is imported. One per process and Prefect home, so a second run
    in the same process (the demo's two cycles) reuses it."""
    global _running
    if configured_api_url():
        return None
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser().resolve()
    if _running is not None:
        if _running.home == home and _running.process.poll() is None:
            return _running
        _running.stop()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    database_set = any(k.startswith(("PREFECT_SERVER_DATABASE_", "PREFECT_API_DATABASE_")) for k in os.environ)
    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 20)
    _running = TemporaryServer(home, env, None if database_set else _template(), timeout)
    atexit.register(_running.stop)
    return _running


@contextlib.contextmanager
def connected(server: TemporaryServer | None) -> Iterator[None]:
    """Within: Prefect's clients use `server` (once it answers). With None, or when Prefect's settings (now
    imported: they may also come from a `.env` or `prefect.toml` file) name a server, disable the temporary one or
    keep the database elsewhere than in the home, `server` is stopped and Prefect does as it is configured to."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if server is not None and (settings.api.url or not settings.server.ephemeral.enabled
                               or Path(settings.home).resolve() != server.home):
        server.stop()
        server = None
    if server is None:
        yield
        return
    url = settings.server.database.connection_url
    if url is None or url.get_secret_value() != f"sqlite+aiosqlite:///{settings.home}/prefect.db":
        server.template = None  # the server migrates the configured database; no copy of it is kept
    server.wait()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from the active profile of Prefect's profiles file (read here, as
    Prefect reads it, before `antt` points PREFECT_HOME under --out and that profile would be out of sight)."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    import tomllib

    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or ""
    return profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None


def _prefect_path() -> Path:
    """Prefect's package folder, found without importing it."""
    import importlib.util

    return Path(importlib.util.find_spec("prefect").submodule_search_locations[0])


def _template() -> Path | None:
    """Where the empty migrated database of this Prefect version is kept; None for a user with no home folder (the
    copy is only a speed-up)."""
    from importlib.metadata import version

    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "antt"
    except (RuntimeError, KeyError):
        return None
    return cache / f"prefect-{version('prefect')}.db"


def _keep_template(database: Path, template: Path) -> None:
    """A consistent copy of the just-migrated database (SQLite's backup API: the server may be writing), put in
    place atomically. Only a speed-up: a cache that cannot be written is left alone."""
    with contextlib.suppress(OSError, sqlite3.Error):
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=template.parent, prefix=template.name, suffix=".tmp")
        os.close(fd)
        try:
            with contextlib.closing(sqlite3.connect(database)) as src, contextlib.closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
            os.replace(tmp, template)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's process before it starts: the kernel sends it SIGTERM when the CLI's process ends."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
