"""A throwaway PostgreSQL server for the tests: `initdb` and `pg_ctl` on 127.0.0.1, a free port, a data folder of its
own, run as an unprivileged user (PostgreSQL refuses to run as root: under root, as Debian's `postgres` user).

    server = PostgresServer().start()
    url = server.create_database()            # postgresql+psycopg://antt:…@127.0.0.1:PORT/antt_1
    server.create_role("reader")               # a login that owns nothing and may create nothing
    server.stop()

Tuned for tests, not for keeping data: no fsync, no synchronous commit.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "antt"
SERVICE_USER = "postgres"  # Debian's postgresql package creates it
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's programs are not installed here."""


def bindir() -> Path:
    """Where `initdb` and `pg_ctl` are: on PATH, else Debian's /usr/lib/postgresql/<major>/bin (newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not candidates:
        raise PostgresUnavailable("PostgreSQL is not installed (initdb not found): run `make system-deps`")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="antt-pg-"))
        self.data = self.root / "data"
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self._names = itertools.count(1)
        # root may not run the server: hand the folder to the unprivileged service user and run as it
        self.as_user = SERVICE_USER if os.geteuid() == 0 else None

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        if self.as_user:
            argv = ["runuser", "-u", self.as_user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.root, timeout=START_TIMEOUT_S)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               f"{self.log_tail()}")
        return done

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.is_file() else ""

    def start(self) -> PostgresServer:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self.as_user:
            try:
                user = pwd.getpwnam(self.as_user)
            except KeyError:
                raise PostgresUnavailable(f"no {self.as_user!r} user to run PostgreSQL as: run `make system-deps`") \
                    from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        self._run(self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, "--pwfile", pwfile, "--auth=scram-sha-256",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        pwfile.unlink()
        self.port = _free_port()
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options,
                  "-w", "-t", str(START_TIMEOUT_S), "start")
        return self

    def stop(self) -> None:
        if self.data.is_dir() and self.port:
            try:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    # -- URLs and databases ---------------------------------------------------------------------------------------
    def url(self, database: str = "postgres", driver: str = "psycopg", user: str = SUPERUSER,
            password: str | None = None) -> str:
        return (f"postgresql+{driver}://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}")

    def _connect(self, database: str):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password,
                               dbname=database, autocommit=True)

    def execute(self, *statements: str, database: str = "postgres") -> None:
        with self._connect(database) as conn:
            for statement in statements:
                conn.execute(statement)

    def query(self, sql: str, database: str = "postgres") -> list[tuple]:
        with self._connect(database) as conn:
            return conn.execute(sql).fetchall()

    def create_database(self, name: str | None = None, driver: str = "psycopg") -> str:
        """A new, empty database owned by the superuser; returns its URL."""
        name = name or f"antt_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, driver)

    def create_role(self, name: str, password: str = "reader-password") -> str:
        """A login role with no privileges of its own (it can connect and use what others grant it)."""
        self.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        return password
