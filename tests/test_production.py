"""The production layout, started on this machine as deploy/ describes it: gunicorn (deploy/gunicorn.conf.py),
a Celery worker per pool and beat, all with PORTAL_PRODUCTION=1, behind Debian's nginx
(deploy/nginx/faceportal.conf) on a self-signed TLS certificate. A person's journey over HTTPS: log in with
the second factor, search a photo, read the result. Along the way: HSTS, secure cookies, the HTTP to HTTPS
redirect, lockout keyed on the real client address (a forged X-Forwarded-For ignored), the Prometheus
endpoint (closed without its token, and its search metrics moving), and the JSON logs (one request id from
the web into the search's job, and no password, token or probe bytes anywhere)."""
import base64
import json
import os
import re
import shutil
import socket
import string
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.test import RequestFactory, override_settings
from requests.adapters import HTTPAdapter

from accounts.actions import do_create_api_token
from audit.models import AuditEvent
from core import queues
from core.web import client_ip
from portal.env import env_networks
from privacy.ratelimit import take_erasure_slot
from search.models import Search
from tests.conftest import BASE_DIR, PASSWORD, face_bytes, new_audit_signing_key, wait_for, worker_database_url
from tests.mfa import enroll_totp, totp_code
from tests.test_queues import enroll_in_process

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
SOURCE_ATTACKER, SOURCE_OWNER = "127.0.0.2", "127.0.0.3"  # every 127/8 address reaches the loopback
LOGIN_FAILURE_LIMIT = 3


# The client address, without the stack


def request_from(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    return RequestFactory().get("/", **meta)


@override_settings(TRUSTED_PROXIES=env_networks("UNUSED", ["127.0.0.1", "10.0.0.0/8"]))
def test_the_client_address_comes_from_the_trusted_proxy_only():
    assert client_ip(request_from("127.0.0.1", "198.51.100.7")) == "198.51.100.7"
    # Read from the right: what the client wrote itself is to the left of what the proxy appended.
    assert client_ip(request_from("127.0.0.1", "203.0.113.66, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from("127.0.0.1", "198.51.100.7, 10.1.2.3")) == "198.51.100.7"
    # A client that reaches the portal directly is judged by its own address, whatever it claims.
    assert client_ip(request_from("198.51.100.7", "203.0.113.66")) == "198.51.100.7"
    assert client_ip(request_from("127.0.0.1", "not-an-address")) == "127.0.0.1"
    assert client_ip(request_from("127.0.0.1")) == "127.0.0.1"


def test_without_trusted_proxies_forwarded_for_is_never_read():
    assert settings.TRUSTED_PROXIES == ()
    assert client_ip(request_from("127.0.0.1", "198.51.100.7")) == "127.0.0.1"


@override_settings(TRUSTED_PROXIES=env_networks("UNUSED", ["127.0.0.1"]), ERASURE_REQUESTS_PER_IP_PER_HOUR=2)
def test_the_erasure_rate_limit_keys_on_the_real_client_and_ignores_forged_headers():
    client, other = f"198.51.100.{uuid.uuid4().int % 250}", f"203.0.113.{uuid.uuid4().int % 250}"
    # Each attempt forges another address in front of what the proxy wrote: all count for the real client.
    assert [take_erasure_slot(request_from("127.0.0.1", f"192.0.2.{n}, {client}")) for n in range(3)] == [
        True, True, False]
    assert take_erasure_slot(request_from("127.0.0.1", other))


def test_a_bad_trusted_proxy_setting_fails_loudly():
    os.environ["PORTAL_TEST_BAD_PROXIES"] = "127.0.0.1, the-proxy"
    try:
        with pytest.raises(Exception, match="PORTAL_TEST_BAD_PROXIES: 'the-proxy' is not an IP address"):
            env_networks("PORTAL_TEST_BAD_PROXIES", [])
    finally:
        del os.environ["PORTAL_TEST_BAD_PROXIES"]


# The whole stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render(template: Path, values: dict) -> str:
    """What `envsubst '${A} ${B}...'` does with the names in `values` (nginx's own $variables stay)."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", str(value))
    assert not re.search(r"\$\{[A-Z_]+\}", text), "a variable of the template was left unset"
    return text


class Stack:
    def __init__(self, root: Path):
        self.root = root
        self.http_port, self.https_port, self.web_port = free_port(), free_port(), free_port()
        self.base = f"https://localhost:{self.https_port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = root / "logs"
        self.logs.mkdir()
        self.cert = root / "tls" / "cert.pem"
        self.queue_prefix = f"portal-prod-{uuid.uuid4().hex[:8]}"
        (root / "metrics").mkdir()
        self.env = {
            **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
            "PORTAL_PRODUCTION": "1", "SECRET_KEY": "production-smoke-test-" + uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "localhost", "CSRF_TRUSTED_ORIGINS": self.base, "SITE_URL": self.base,
            "DATABASE_URL": worker_database_url(), "DB_CONN_MAX_AGE": "0", "PORTAL_VAR_DIR": str(root / "var"),
            "PORTAL_QUEUE": self.queue_prefix, "TRUSTED_PROXIES": "127.0.0.1", "METRICS_TOKEN": METRICS_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"), "LOG_JSON": "1",
            "STRIPE_SECRET_KEY": "sk_test_smoke", "STRIPE_WEBHOOK_SECRET": "whsec_smoke",
            "AUDIT_SIGNING_KEY": new_audit_signing_key(),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOGIN_FAILURE_LIMIT": str(LOGIN_FAILURE_LIMIT), "GUNICORN_BIND": f"127.0.0.1:{self.web_port}",
            "WEB_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1",
        }

    def certificate(self) -> None:
        (self.root / "tls").mkdir()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", str(self.root / "tls" / "key.pem"), "-out", str(self.cert)],
                       check=True, capture_output=True)

    def collectstatic(self) -> None:
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR,
                       env=self.env, check=True, capture_output=True)

    def nginx_config(self) -> Path:
        site = render(BASE_DIR / "deploy" / "nginx" / "faceportal.conf", {
            "SERVER_NAME": "localhost", "HTTP_PORT": self.http_port, "HTTPS_PORT": self.https_port,
            "TLS_CERT": self.cert, "TLS_KEY": self.root / "tls" / "key.pem", "UPSTREAM": f"127.0.0.1:{self.web_port}",
            "STATIC_ROOT": self.root / "var" / "static", "MAX_BODY": f"{settings.MAX_BULK_UPLOAD_BYTES + 2**20}",
            "PROXY_PARAMS": BASE_DIR / "deploy" / "nginx" / "faceportal_proxy_params",
        })
        (self.root / "site.conf").write_text(site)
        main = self.root / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the static files and temp dirs
        main.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.root}/nginx.pid;\nerror_log {self.logs}/nginx-error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n include /etc/nginx/mime.types;\n access_log {self.logs}/nginx-access.log;\n"
            f" client_body_temp_path {self.root}/nginx-body;\n proxy_temp_path {self.root}/nginx-proxy;\n"
            f" fastcgi_temp_path {self.root}/nginx-fcgi;\n uwsgi_temp_path {self.root}/nginx-uwsgi;\n"
            f" scgi_temp_path {self.root}/nginx-scgi;\n include {self.root}/site.conf;\n}}\n")
        return main

    def start(self, name: str, command: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def up(self) -> None:
        self.certificate()
        self.collectstatic()
        nginx_conf = self.nginx_config()
        subprocess.run([NGINX, "-t", "-c", str(nginx_conf), "-p", str(self.root)], check=True, capture_output=True)
        self.start("web", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"])
        for pool in queues.pools():
            self.start(f"worker-{pool}", [sys.executable, "-m", "portal.worker", pool, "--concurrency", "1",
                                          "-l", "info", "--without-mingle", "--without-gossip"])
        self.start("beat", [sys.executable, "-m", "celery", "-A", "portal", "beat", "-l", "info",
                            "-s", str(self.root / "celerybeat-schedule")])
        self.start("nginx", [NGINX, "-c", str(nginx_conf), "-p", str(self.root)])
        wait_for(self.healthy, timeout=120, interval=0.5)

    def healthy(self) -> bool:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited; see {self.logs / (name + '.log')}"
        try:
            return requests.get(f"{self.base}/healthz", verify=self.cert, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def down(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()

    def session(self, source: str = "127.0.0.1") -> requests.Session:
        """A browser-like client whose connections leave from `source` (the address nginx sees)."""
        session = requests.Session()
        session.trust_env = False  # a CA bundle from the environment would replace this test's certificate
        session.verify = str(self.cert)
        session.headers.update({"Referer": f"{self.base}/", "Origin": self.base})
        session.mount("https://", SourceAddressAdapter(source))
        session.mount("http://", SourceAddressAdapter(source))
        return session

    def all_logs(self) -> bytes:
        return b"".join(path.read_bytes() for path in sorted(self.logs.glob("*.log")))


class SourceAddressAdapter(HTTPAdapter):
    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture
def stack(tmp_path_factory, transactional_db):
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: ./dev.sh test installs it through apt (Debian's nginx package)")
    stack = Stack(tmp_path_factory.mktemp("production"))
    started = time.monotonic()
    try:
        stack.up()
        stack.startup_seconds = time.monotonic() - started
        yield stack
    finally:
        stack.down()


def form_post(session: requests.Session, url: str, data: dict, files: dict | None = None) -> requests.Response:
    page = session.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return session.post(url, data={**data, "csrfmiddlewaretoken": token.group(1)}, files=files,
                        allow_redirects=False)


def log_in(stack: Stack, session: requests.Session, email: str, password: str,
           forged: str | None = None) -> requests.Response:
    session.headers.pop("X-Forwarded-For", None)
    if forged:
        session.headers["X-Forwarded-For"] = forged
    return form_post(session, f"{stack.base}/accounts/login/", {"username": email, "password": password})


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{[^}]*" + re.escape(labels) + r"[^}]*\}" if labels else r"(?:\{[^}]*\})?")
    return sum(float(value) for value in re.findall(rf"^{pattern} ([0-9.e+-]+)$", text, re.MULTILINE))


def scrape(stack: Stack) -> str:
    response = requests.get(f"{stack.base}/metrics", verify=stack.cert,
                            headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200
    return response.text


def json_lines(raw: bytes) -> list[dict]:
    lines = []
    for line in raw.decode(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_the_production_layout_serves_a_journey_over_https(stack, people, capsys):
    timings = {"stack up (certificate, collectstatic, gunicorn, 3 worker pools, beat, nginx)": stack.startup_seconds}
    user = people.investigator
    device = enroll_totp(user)
    enroll_in_process(people.agency, ["obama.jpg", "biden.jpg"])
    _token, api_key = do_create_api_token(user=user, name="smoke test")

    # HTTP only redirects to HTTPS; HTTPS answers with HSTS.
    plain = requests.get(f"http://localhost:{stack.http_port}/accounts/login/?next=/", allow_redirects=False,
                         timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://localhost:{stack.https_port}/accounts/login/?next=/"
    login_page = requests.get(f"{stack.base}/accounts/login/", verify=stack.cert, timeout=10)
    assert login_page.status_code == 200
    assert "max-age=31536000" in login_page.headers["Strict-Transport-Security"]
    static = re.search(r'href="(/static/[^"]+\.css)"', login_page.text).group(1)
    static_response = requests.get(f"{stack.base}{static}", verify=stack.cert, timeout=10)
    assert static_response.status_code == 200 and "immutable" in static_response.headers["Cache-Control"]
    assert requests.get(f"{stack.base}/metrics", verify=stack.cert, timeout=10).status_code == 401
    before = scrape(stack)

    # The journey: password, second factor, a search, its result.
    started = time.monotonic()
    browser = stack.session()
    assert log_in(stack, browser, user.email, PASSWORD).status_code == 302
    response = browser.get(f"{stack.base}/", allow_redirects=False)  # the password alone opens nothing
    assert response.status_code == 302 and "/security/verify/" in response.headers["Location"]
    session_cookie = next(cookie for cookie in browser.cookies if cookie.name == "sessionid")
    assert session_cookie.secure and session_cookie.has_nonstandard_attr("HttpOnly")
    assert all(cookie.secure for cookie in browser.cookies)
    response = form_post(browser, f"{stack.base}/security/verify/", {"code": totp_code(device), "next": "/"})
    assert response.status_code == 302, response.text[:1000]
    timings["log in (password and TOTP)"] = time.monotonic() - started

    started = time.monotonic()
    probe = face_bytes("obama2.jpg")
    response = form_post(browser, f"{stack.base}/searches/new/", {
        "purpose": "criminal_investigation", "case_number": "SMOKE-1", "min_similarity": "50",
        "max_candidates": "5"}, files={"probe": ("obama2.jpg", probe, "image/jpeg")})
    assert response.status_code == 302, response.text[:1000]
    result_url = stack.base + response.headers["Location"]
    search = Search.objects.get(case_number="SMOKE-1")
    wait_for(lambda: Search.objects.filter(pk=search.pk, status="done").exists(), timeout=120, interval=0.3)
    timings["search: upload to stored result"] = time.monotonic() - started
    page = browser.get(result_url)
    assert page.status_code == 200 and "S-0" in page.text and "not an identification" in page.text
    timings["search: upload to result page read"] = time.monotonic() - started
    api = requests.get(f"{stack.base}/api/v1/galleries/", verify=stack.cert, timeout=10,
                       headers={"Authorization": f"Token {api_key}"})
    assert api.status_code == 200

    # Lockout keys on the address nginx saw: failures from one address, each forging another one, add up there
    # and lock it, while the owner's own address is not locked.
    started = time.monotonic()
    attacker, owner = stack.session(SOURCE_ATTACKER), stack.session(SOURCE_OWNER)
    target = people.admin.email
    for attempt in range(LOGIN_FAILURE_LIMIT):
        assert log_in(stack, attacker, target, "wrong-password", forged=f"198.51.100.{attempt}").status_code == 200
    refused = log_in(stack, attacker, target, PASSWORD, forged="198.51.100.77")
    assert refused.status_code == 200 and "Too many failed attempts" in refused.text
    assert log_in(stack, owner, target, PASSWORD).status_code == 302
    locked = AuditEvent.objects.get(event="login.locked_out", target=str(people.admin.code))
    assert locked.actor_ip == SOURCE_ATTACKER
    timings["lockout through the proxy"] = time.monotonic() - started

    # The metrics moved with the search; the endpoint reads queue depth and the checkpoint's age too.
    def scraped_once_the_search_counted() -> str | None:
        text = scrape(stack)
        return text if metric(text, "portal_search_latency_seconds_count") >= 1 else None

    after = wait_for(scraped_once_the_search_counted, timeout=30)
    assert metric(before, "portal_search_latency_seconds_count") == 0
    assert metric(after, "portal_celery_task_duration_seconds_count",
                  'outcome="success",task="search.tasks.run_search"') >= 1
    assert metric(after, "django_http_requests_latency_seconds_by_view_method_count",
                  'view="search:search_new"') >= 1
    assert re.search(rf'^portal_queue_depth\{{queue="{stack.queue_prefix}.search.0"\}} 0.0$', after, re.MULTILINE)
    head_age = metric(after, "portal_audit_checkpoint_age_seconds")  # -1 until beat signs this database's first head
    assert head_age == -1 or 0 <= head_age < 600

    # JSON logs: the search's request id reaches its job; no secret and no probe byte anywhere.
    logs = stack.all_logs()
    lines = json_lines(logs)
    posted = [line for line in lines if line.get("event") == "request_finished"
              and line.get("request") == "POST /searches/new/"]
    assert len(posted) == 1 and posted[0]["user_id"] == user.pk and posted[0]["agency"] == str(people.agency.code)
    request_id = posted[0]["request_id"]
    job_lines = [line for line in lines if line.get("request_id") == request_id and "task_id" in line]
    assert any(f"run_search {search.pk} claimed" in line.get("event", "") for line in job_lines), job_lines
    assert all(line.get("agency_id") == people.agency.pk for line in job_lines if "claimed" in line.get("event", ""))
    for secret in (PASSWORD, api_key, METRICS_TOKEN):
        assert secret.encode() not in logs
    for chunk in (probe[1000:1032], base64.b64encode(probe[999:1047]), probe[1000:1032].hex().encode()):
        assert chunk not in logs
    assert not re.search(rb"(-?\d\.\d{4,}, ){16}", logs), "a face encoding was logged"

    with capsys.disabled():
        print("\nproduction smoke test timings:")
        for step, seconds in timings.items():
            print(f"  {step}: {seconds:.2f} s")
