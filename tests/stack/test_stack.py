"""Scenarios over booted stacks: every rendered environment that runs on Compose comes up healthy,
its routes reach its apps at the paths they expect, Prometheus sees every target and every query
it was given returns data, and its alerts reach a receiver. See stack.py for how a stack boots.

Run through scripts/stack-test.sh (which enters a private network namespace), or the whole suite
with scripts/test.sh.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import json
import os
import re
import shlex
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import stack
from stack import REPO, Container, Stack, http, wait_for

if not stack.in_private_network():
    pytest.skip("the stack harness runs inside scripts/stack-test.sh's network namespace",
                allow_module_level=True)

# Every environment of every example that runs on Compose. Kubernetes environments (data-cluster
# staging and prod) have no compose file; their pods' probes and their CronJobs' commands run
# against data-cluster dev's stack (test_kubernetes_*).
ENVIRONMENTS = sorted(
    (p.parent.name, p.name.split(".")[1], None)
    for p in (REPO / "generated").glob("*/compose.*.yaml")
)
# Renders no committed example has, booted and exercised like the others: (id, example, env,
# change to its blueprint). The Caddy render of a replicated Streamlit service (its sticky
# upstream) and of the routes, TLS and tools the nginx one serves there.
VARIANTS = [("caddy", "data-platform", "prod", {"proxy": {"engine": "caddy"}})]
STACKS = ENVIRONMENTS + [(e, n, v) for _, e, n, v in VARIANTS]
STACK_IDS = [f"{e}-{n}" for e, n, _ in ENVIRONMENTS] + [f"{e}-{n}-{i}" for i, e, n, _ in VARIANTS]
TIME_SCALE = 20  # STACK_TIME_SCALE for every stack here: `for: 2m` fires after 6 s.


class Webhook:
    """The receiver every webhook and Slack URL points at: records each notification."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"raw": body.decode(errors="replace")}
                outer.received.append((self.path, payload))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((stack.WEBHOOK_ADDR, stack.WEBHOOK_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> str:
        return json.dumps([p for _, p in self.received])


@pytest.fixture(scope="session")
def webhook():
    w = Webhook()
    yield w
    w.server.shutdown()


@pytest.fixture(scope="module", params=STACKS, ids=STACK_IDS)
def booted(request, webhook):
    example, env, variant = request.param
    s = Stack(example, env, time_scale=TIME_SCALE, variant=variant)
    try:
        s.up()
        yield s
    finally:
        s.down()


def prometheus(s: Stack) -> str:
    c = s.containers["prometheus"][0]
    prefix = ""
    for a in c.argv:
        if a.startswith("--web.external-url="):
            prefix = urllib.parse.urlparse(a.split("=", 1)[1]).path.rstrip("/")
    return f"http://{c.addr}:9090{prefix}"


def query(s: Stack, expr: str) -> list:
    status, _, body = http(f"{prometheus(s)}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", f"{expr}: {body[:500]!r}"
    return data["data"]["result"]


def proxy_base(s: Stack) -> tuple[str, str, Path | None]:
    """(base URL, Host header, CA) for requests through the proxy as a browser makes them."""
    c = s.containers["proxy"][0]
    domain = s.compose_domain()
    nginx = "nginx" in c.spec["image"]
    if s.domains() or s.caddy_sites():
        # By name (the harness's DNS has the public names), so that TLS gets the SNI it expects.
        return f"https://{domain}:{8443 if nginx else 443}", domain, s.ca() / "ca.pem"
    return f"http://{c.addr}:{8080 if nginx else 80}", domain, None


# --- scenarios ---------------------------------------------------------------------------------


def test_every_healthcheck_passes_within_its_start_period(booted: Stack):
    for c in booted.all():
        # Only the compose file's containers: the harness's stand-ins have no start period.
        if not c.healthcheck or c.service not in booted.compose["services"]:
            continue
        booted.wait_healthy(c.service)
        start_period = stack.seconds(c.spec.get("healthcheck", {}).get("start_period", "0s"))
        assert c.healthy_after <= start_period, f"{c.name} took {c.healthy_after:.1f}s (start_period {start_period}s)"


def test_servers_boot_without_errors(booted: Stack):
    """The app servers log no error while they come up (gunicorn's are `[ERROR]` lines): an image
    that logs one at every boot trains its team to ignore its logs."""
    booted.wait_all_healthy()
    for c in booted.all():
        if c.argv and c.argv[0].endswith("gunicorn"):
            errors = [line for line in c.logs().splitlines() if "[ERROR]" in line]
            assert not errors, f"{c.name}: {errors}"


def test_routes_reach_their_apps_at_the_paths_they_expect(booted: Stack):
    if "proxy" not in booted.containers:
        pytest.skip("no proxy in this environment")
    booted.wait_all_healthy()
    base, host, ca = proxy_base(booted)
    routes = EXPECTED_ROUTES[booted.example]
    for path, want, check in routes:
        status, headers, body = http(base + path, host=host, ca=ca)
        assert status == want, f"{path} via the proxy: {status} {body[:300]!r}"
        if check:
            check(status, headers, body)


def _json_prefix(status, headers, body):
    # The app's own idea of where it lives (reverse() in Django): one prefix, not two.
    data = json.loads(body)
    assert urllib.parse.urlparse(data["latest"]).path == "/api/prices", data
    assert urllib.parse.urlparse(data["admin"]).path == "/admin/", data


def _admin_redirect(status, headers, body):
    assert headers["Location"].startswith("/admin/login/"), headers["Location"]


EXPECTED_ROUTES = {
    "data-platform": [
        ("/healthz", 200, None),
        ("/api/", 200, _json_prefix),
        ("/api/prices", 200, None),
        ("/admin/", 302, _admin_redirect),
        ("/admin/login/", 200, lambda s, h, b: b"/static/admin/" in b or pytest.fail(b[:400])),
        ("/static/admin/css/base.css", 200, None),
        ("/dashboard/", 200, None),
        ("/dashboard/_stcore/health", 200, None),
    ],
    "task-queue": [
        ("/healthz", 200, None),
        ("/api/healthz", 200, None),
        ("/", 200, None),
    ],
    "data-cluster": [
        ("/api/", 200, _json_prefix),
        ("/admin/", 302, _admin_redirect),
        ("/dashboard/_stcore/health", 200, None),
    ],
}


# Per example: a path whose app sends its own X-Frame-Options (Django's XFrameOptionsMiddleware,
# the task-queue API's DENY), and one whose app sends none.
OWN_AND_DEFAULT_FRAME_OPTIONS = {
    "data-platform": [("/admin/login/", "DENY"), ("/dashboard/_stcore/health", "SAMEORIGIN")],
    "data-cluster": [("/admin/", "DENY"), ("/dashboard/_stcore/health", "SAMEORIGIN")],
    "task-queue": [("/api/healthz", "DENY"), ("/", "SAMEORIGIN")],
}


def test_security_headers_leave_the_apps_own_alone(booted: Stack):
    """A hardened proxy adds its security headers only where the app sent none: an app's
    stricter policy reaches the browser, once (it was hidden and replaced by the proxy's)."""
    if "proxy" not in booted.containers or booted.example not in OWN_AND_DEFAULT_FRAME_OPTIONS:
        pytest.skip("no proxy in this environment")
    conf = "".join(p.read_text() for p in (booted.work / "proxy" / booted.env_name).glob("*"))
    if "$default_x_frame_options" not in conf and "(security_headers)" not in conf:
        pytest.skip("the proxy adds no security headers here")
    booted.wait_all_healthy()
    base, host, ca = proxy_base(booted)
    for path, want in OWN_AND_DEFAULT_FRAME_OPTIONS[booted.example]:
        status, headers, body = http(base + path, host=host, ca=ca)
        assert status < 500, f"{path}: {status} {body[:200]!r}"
        assert headers.get_all("X-Frame-Options") == [want], f"{path}: {headers.get_all('X-Frame-Options')}"
        assert len(headers.get_all("Content-Security-Policy") or []) == 1, f"{path}: {headers}"
    if booted.example == "task-queue":
        _, headers, _ = http(base + "/api/healthz", host=host, ca=ca)
        assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", headers


def test_websocket_routes_upgrade(booted: Stack):
    if "proxy" not in booted.containers or "dashboard" not in booted.containers:
        pytest.skip("no websocket route here")
    base, host, ca = proxy_base(booted)
    open_websocket(base, host, ca, "/dashboard/_stcore/stream").close()  # asserts the 101


def keep_cookies(jar: dict[str, str], set_cookies: list[str]) -> dict[str, str]:
    """What a browser keeps of Set-Cookie headers: each cookie's name and value."""
    for header in set_cookies:
        name, _, value = header.split(";", 1)[0].strip().partition("=")
        jar[name] = value
    return jar


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(jar.items()))


def open_websocket(base: str, host: str, ca: Path | None, path: str, jar: dict[str, str] | None = None):
    """A raw websocket client through the proxy, sending and keeping the cookies in `jar` as a
    browser does: the socket after a 101."""
    jar = {} if jar is None else jar
    u = urllib.parse.urlparse(base)
    raw = socket.create_connection((u.hostname, u.port), timeout=20)
    if u.scheme == "https":
        import ssl

        raw = ssl.create_default_context(cafile=str(ca)).wrap_socket(raw, server_hostname=u.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie_header(jar)}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(1)
        if not chunk:
            break
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    keep_cookies(jar, [line.split(":", 1)[1] for line in head.decode(errors="replace").split("\r\n")
                       if line.lower().startswith("set-cookie:")])
    return raw


def websocket_send(raw, payload: bytes) -> None:
    """One masked binary frame (clients must mask)."""
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    raw.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def websocket_frames(raw, deadline: float):
    """The payloads of the server's frames (unmasked) until the deadline."""
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            raw.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = raw.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    while time.monotonic() < deadline:
        b0, b1 = need(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(need(2), "big")
        elif n == 127:
            n = int.from_bytes(need(8), "big")
        yield need(n)


def session_id(venv: str, frame: bytes) -> str:
    """The session id in a ForwardMsg's new_session, decoded by the app's own Streamlit."""
    code = ("import sys; from streamlit.proto.ForwardMsg_pb2 import ForwardMsg; m = ForwardMsg(); "
            "m.ParseFromString(sys.stdin.buffer.read()); "
            "print(m.new_session.initialize.session_id if m.HasField('new_session') else '')")
    r = subprocess.run([f"{venv}/bin/python", "-c", code], input=frame, capture_output=True)
    return r.stdout.decode().strip()


RERUN_SCRIPT = b"Z\x00"  # BackMsg{rerun_script: ClientState{}}: field 11, an empty message


def test_a_streamlit_session_survives_its_next_request(booted: Stack):
    """With two replicas, a file upload reaches the replica that holds the browser's session
    (Streamlit answers any other with 400 "Invalid session_id")."""
    if len(booted.containers.get("dashboard", [])) < 2 or "proxy" not in booted.containers:
        pytest.skip("no replicated Streamlit service behind the proxy here")
    booted.wait_all_healthy()
    base, host, ca = proxy_base(booted)
    venv = next(source for _, source, target in booted.containers["dashboard"][0].mounts if target == "/opt/venv")
    # Round robin over two replicas sends one in two uploads astray; eight sessions in a row
    # keep to their replica only by chance once in 128 runs. Each is a new browser: its cookies
    # (Streamlit's XSRF token, the proxy's affinity cookie where it sets one) start empty.
    for attempt in range(8):
        _, headers, _ = http(base + "/dashboard/_stcore/health", host=host, ca=ca)
        jar = keep_cookies({}, headers.get_all("Set-Cookie") or [])
        xsrf = jar.get("_streamlit_xsrf")
        assert xsrf, dict(headers)
        ws = open_websocket(base, host, ca, "/dashboard/_stcore/stream", jar)
        try:
            websocket_send(ws, RERUN_SCRIPT)
            session = next((sid for frame in websocket_frames(ws, time.monotonic() + 30)
                            if (sid := session_id(venv, frame))), None)
            assert session, "no session id from Streamlit"
            boundary = "stackharness"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"UploadedFile\"; "
                    f"filename=\"prices.csv\"\r\nContent-Type: text/csv\r\n\r\nsymbol,close\r\n"
                    f"--{boundary}--\r\n").encode()
            status, _, answer = http(
                f"{base}/dashboard/_stcore/upload_file/{session}/file-{attempt}", host=host, ca=ca,
                method="PUT", data=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                         "X-Xsrftoken": xsrf, "Cookie": cookie_header(jar)})
            assert status == 204, f"upload {attempt + 1}: {status} {answer[:300]!r}"
        finally:
            ws.close()


def test_prometheus_sees_every_target_up(booted: Stack):
    if "prometheus" not in booted.containers:
        pytest.skip("no monitoring here")
    booted.wait_all_healthy()
    conf = yaml.safe_load((booted.work / f"monitoring/prometheus/prometheus.{booted.env_name}.yml").read_text())
    jobs = {j["job_name"] for j in conf["scrape_configs"]}
    not_run = {f"{n}" for n in booted.skipped}

    def all_up():
        series = query(booted, "up")
        seen = {r["metric"]["job"] for r in series}
        missing = jobs - seen
        down = [r["metric"] for r in series if r["value"][1] != "1" and r["metric"]["job"] not in not_run]
        return (not missing and not down) or None

    try:
        wait_for(all_up, 60, "every scrape job up")
    except AssertionError:
        series = query(booted, "up")
        raise AssertionError(f"jobs {sorted(jobs)}; series: {[(r['metric'], r['value'][1]) for r in series]}")
    probes = query(booted, "probe_success")
    assert all(r["value"][1] == "1" for r in probes), probes


def send_traffic(s: Stack, requests: int = 5) -> None:
    """A few requests to every published HTTP port of every built service, as users would send
    (the example apps count neither probes nor scrapes as traffic)."""
    for c in s.all():
        if "build" not in c.spec:
            continue
        for port in c.ports:
            for _ in range(requests):
                try:
                    http(f"http://{c.addr}:{port}/", host=f"{c.service}:{port}", timeout=5)
                except OSError:
                    break  # not HTTP


def test_recording_rules_and_dashboard_queries_return_data(booted: Stack):
    if "prometheus" not in booted.containers:
        pytest.skip("no monitoring here")
    booted.wait_all_healthy()
    send_traffic(booted)
    rules = booted.work / "monitoring/prometheus/rules/recording.rules.yml"
    if rules.exists():
        for group in yaml.safe_load(rules.read_text())["groups"]:
            for r in group["rules"]:
                wait_for(lambda: query(booted, r["record"]), 60, f"recording rule {r['record']}")


def test_error_counts_are_right_with_several_workers(booted: Stack):
    if booted.example != "data-platform":
        pytest.skip("the Django app is the multi-worker one")
    booted.wait_healthy("api")
    api = booted.containers["api"][0]
    # Every worker's count, summed over the service's targets: a single worker's would be less.
    total = 'sum(django_http_responses_total_by_status_total{status="404",job="api"}) or vector(0)'
    # The baseline after every earlier request has been scraped (two scaled scrape intervals).
    time.sleep(2.5 * stack.MIN_SCRAPE)
    before = float(query(booted, total)[0]["value"][1])
    n = 20
    for _ in range(n):
        status, _, _ = http(f"http://{api.addr}:8000/api/does-not-exist", host="api:8000")
        assert status == 404, status

    def counted():
        res = float(query(booted, total)[0]["value"][1]) - before
        return res >= n and res

    assert wait_for(counted, 60, f"{n} 404s counted") == n


def alertmanager_alerts(s: Stack) -> list[dict]:
    am = s.containers["alertmanager"][0]
    status, _, body = http(f"http://{am.addr}:9093/api/v2/alerts")
    assert status == 200, body[:300]
    return json.loads(body)


def notified(webhook: Webhook, s: Stack, since: tuple[int, int], *words: str) -> bool:
    """Whether one notification (webhook, Slack or email) since `since` names every word."""
    texts = [json.dumps(p) for _, p in webhook.received[since[0]:]] + [m["data"] for m in s.mail()[since[1]:]]
    return any(all(w.lower() in t.lower() for w in words) for t in texts)


def receivers(s: Stack) -> set[str]:
    """The Alertmanager receivers that deliver somewhere (not the `null` one)."""
    conf = yaml.safe_load((s.work / "monitoring/alertmanager/alertmanager.yml").read_text())
    return {r["name"] for r in conf["receivers"] if len(r) > 1}


def arrived(webhook: Webhook, s: Stack, since: tuple[int, int], alert: str, word: str,
            resolved: bool = False) -> bool:
    """The alert (or its resolution) reached a receiver; where the blueprint names none,
    Alertmanager holds it (or no longer does) for the null receiver."""
    if receivers(s):
        return notified(webhook, s, since, alert, word, *(["resolved"] if resolved else []))
    if resolved:
        return not [a for a in query(s, f'ALERTS{{alertname="{alert}",alertstate="firing"}}')
                    if word in a["metric"].values()]
    return any(a["labels"]["alertname"] == alert and word in a["labels"].values()
               and a["status"]["state"] == "active" for a in alertmanager_alerts(s))


def mark(webhook: Webhook, s: Stack) -> tuple[int, int]:
    return len(webhook.received), len(s.mail())


def test_a_stopped_service_alerts_and_recovers(booted: Stack, webhook: Webhook):
    if "alertmanager" not in booted.containers or "api" not in booted.containers:
        pytest.skip("no alerting here")
    booted.wait_all_healthy()
    since = mark(webhook, booted)
    booted.stop("api")

    wait_for(lambda: arrived(webhook, booted, since, "ServiceDown", "api"), 120,
             "ServiceDown for api at a receiver")
    # The probe fails too, and fires; the rendered inhibition keeps it from paging a second time
    # for the same outage (ServiceDown inhibits every other alert of its service).
    def probe_inhibited():
        return any(a["labels"]["alertname"] == "HealthProbeFailing" and a["labels"].get("service") == "api"
                   and a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]
                   for a in alertmanager_alerts(booted))

    wait_for(probe_inhibited, 60, "HealthProbeFailing for api, inhibited by ServiceDown")
    for c in booted.containers["api"]:
        booted.start(c)
    booted.wait_healthy("api")
    wait_for(lambda: arrived(webhook, booted, since, "ServiceDown", "api", resolved=True), 120,
             "ServiceDown resolved at a receiver")


def test_a_stopped_node_exporter_alerts(booted: Stack, webhook: Webhook):
    """One representative of the host and proxy exporters: its ServiceDown reaches a receiver."""
    if "alertmanager" not in booted.containers or "node-exporter" not in booted.containers:
        pytest.skip("no host monitoring here")
    booted.wait_all_healthy()
    # The host's own metrics are real: the root file system the exporter reads through /host.
    assert query(booted, 'node_filesystem_size_bytes{job="node-exporter", mountpoint="/"}')
    since = mark(webhook, booted)
    booted.stop("node-exporter")
    wait_for(lambda: arrived(webhook, booted, since, "ServiceDown", "node-exporter"), 120,
             "ServiceDown for node-exporter at a receiver")
    for c in booted.containers["node-exporter"]:
        booted.start(c)
    booted.wait_healthy("node-exporter")


def test_a_short_lived_certificate_alerts_through_the_public_probe(booted: Stack, webhook: Webhook):
    """The blackbox exporter probes the public URL through the proxy, sees the certificate the
    proxy serves, and CertificateExpiresSoon fires (critical) for one that expires in two days."""
    conf = yaml.safe_load((booted.work / f"monitoring/prometheus/prometheus.{booted.env_name}.yml").read_text())
    if "alertmanager" not in booted.containers or not booted.domains() or \
            not any(j["job_name"] == "blackbox-public" for j in conf["scrape_configs"]):
        pytest.skip("no public HTTPS probe of an nginx proxy here")
    booted.wait_all_healthy()
    proxy = booted.containers["proxy"][0]
    live = next(Path(src) for _, src, target in proxy.mounts if target == "/etc/letsencrypt")
    domain = booted.compose_domain()

    def reissue(days: int) -> None:
        stack.issue_certificate(booted.ca(), domain, live / "live" / domain, days=days)
        done = booted.exec(proxy, ["nginx", "-s", "reload"])
        assert done.returncode == 0, done.stderr

    def expiry_days() -> float | None:
        got = query(booted, 'probe_ssl_earliest_cert_expiry{job="blackbox-public"} - time()')
        return float(got[0]["value"][1]) / 86400 if got else None

    wait_for(lambda: (expiry_days() or 0) > 80, 60, "the 90-day certificate seen by the probe")
    since = mark(webhook, booted)
    try:
        reissue(2)
        wait_for(lambda: (expiry_days() or 99) < 3, 60, "the 2-day certificate seen by the probe")
        wait_for(lambda: arrived(webhook, booted, since, "CertificateExpiresSoon", "critical"), 120,
                 "CertificateExpiresSoon (critical) at a receiver")
    finally:
        reissue(90)


def crontab_lines(s: Stack) -> dict[str, tuple[str, str]]:
    """job name -> (scheduler service, command) from every rendered crontab."""
    jobs = {}
    for tab in sorted((s.work / "jobs").glob("*.crontab")):
        scheduler = f"{tab.stem}-scheduler"
        for line in tab.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                command = line.split(None, 5)[5]
                jobs[command.split()[2]] = (scheduler, command)
    return jobs


def test_the_watchdog_reaches_the_heartbeat_and_no_receiver(booted: Stack, webhook: Webhook):
    """The dead man's switch: Watchdog fires from the first evaluation, Alertmanager posts it to
    the heartbeat URL again every (scaled) minute, and never to a receiver."""
    if "alertmanager" not in booted.containers:
        pytest.skip("no alerting here")
    conf = yaml.safe_load((booted.work / "monitoring/alertmanager/alertmanager.yml").read_text())
    first = conf["route"]["routes"][0]
    assert first["matchers"] == ['alertname="Watchdog"'], first
    booted.wait_all_healthy()
    if first["receiver"] == "null":
        wait_for(lambda: any(a["labels"]["alertname"] == "Watchdog" for a in alertmanager_alerts(booted)),
                 60, "Watchdog held by Alertmanager")
        return
    since = len(webhook.received)
    mails = len(booted.mail())

    def pings() -> list[str]:
        return [path for path, p in webhook.received[since:]
                if any(a["labels"]["alertname"] == "Watchdog" for a in p.get("alerts", []))]

    # Two pings: the first, then its repeat (what the heartbeat service counts on).
    wait_for(lambda: len(pings()) >= 2 or None, 60, "two Watchdog pings at the heartbeat URL")
    assert set(pings()) == {"/heartbeat_url"}, pings()
    elsewhere = [path for path, p in webhook.received if "Watchdog" in json.dumps(p) and path != "/heartbeat_url"]
    assert not elsewhere and not any("Watchdog" in m["data"] for m in booted.mail()[mails:]), elsewhere


def test_a_queue_nobody_takes_from_alerts_backlog_and_stall(booted: Stack, webhook: Webhook):
    """With its workers stopped, a queue filled past the backlog threshold fires QueueBacklog and
    QueueStalled at a receiver, from the length the rendered redis_exporter reads."""
    exporters = [c for c in booted.all() if "redis_exporter" in c.spec.get("image", "")]
    if "alertmanager" not in booted.containers or not exporters:
        pytest.skip("no watched queue here")
    booted.wait_all_healthy()
    rules = yaml.safe_load((booted.work / "monitoring/prometheus/rules/queues.rules.yml").read_text())
    backlog = next(r for g in rules["groups"] for r in g["rules"] if r["alert"] == "QueueBacklog")
    queue = backlog["expr"].split('key="')[1].split('"')[0]
    threshold = int(float(backlog["expr"].rsplit(">", 1)[1]))
    url = exporters[0].env["REDIS_ADDR"]
    # Whoever takes from the queue: every built container without a port that reads this Redis.
    workers = {c.service for c in booted.all() if "build" in c.spec and not c.ports
               and url in c.env.values()}
    assert workers, "a worker reads the queue"
    for w in sorted(workers):
        booted.stop(w)
    since = mark(webhook, booted)

    def redis(*args: str) -> str:
        done = subprocess.run(["redis-cli", "-u", url, *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        redis("DEL", queue)
        redis("LPUSH", queue, *[str(i) for i in range(threshold + 500)])
        wait_for(lambda: arrived(webhook, booted, since, "QueueBacklog", queue), 120,
                 f"QueueBacklog for {queue} at a receiver")
        wait_for(lambda: arrived(webhook, booted, since, "QueueStalled", queue), 120,
                 f"QueueStalled for {queue} at a receiver")
    finally:
        redis("DEL", queue)
        for w in sorted(workers):
            for c in booted.containers[w]:
                booted.start(c)


def test_a_failing_job_alerts_and_recovers(booted: Stack, webhook: Webhook):
    jobs = crontab_lines(booted) if (booted.work / "jobs").is_dir() else {}
    if "alertmanager" not in booted.containers or not jobs:
        pytest.skip("no scheduled jobs with alerting here")
    booted.wait_all_healthy()
    # The first job whose scheduler runs here, through its crontab line as supercronic would.
    name, (scheduler, command) = next((n, j) for n, j in jobs.items() if j[0] in booted.containers)
    runner = booted.containers[scheduler][0]
    dependency = next((d for d in FAILS_WITHOUT if d in booted.containers), None)
    if dependency is None:
        pytest.skip("no dependency to take away from this job")
    since = mark(webhook, booted)
    booted.stop(dependency)
    r = booted.exec(runner, [command], shell=True, timeout=180)
    assert r.returncode != 0, f"{name} succeeded without {dependency}: {r.stdout[-500:]}"
    assert f"run-job: {name} failed" in r.stderr, r.stderr[-2000:]
    wait_for(lambda: arrived(webhook, booted, since, "JobFailed", name), 120, f"JobFailed for {name}")

    for c in booted.containers[dependency]:
        booted.start(c)
    booted.wait_healthy(dependency)
    r = booted.exec(runner, [command], shell=True, timeout=180)
    assert r.returncode == 0, f"{name}: {r.stdout[-1000:]}{r.stderr[-2000:]}"
    booted.jobs_reported = True
    wait_for(lambda: arrived(webhook, booted, since, "JobFailed", name, resolved=True), 120,
             f"JobFailed for {name} resolved")


# What a job cannot succeed without (its failure is the job's, not a crash of its own): the
# database container, or the stand-in for a managed one.
FAILS_WITHOUT = ["db", "managed-db"]


# --- backups: the rendered backup job and restore script, against the real PostgreSQL and the
# S3 server (moto) ----------------------------------------------------------------------------


def backup_runners(s: Stack) -> list[tuple[Container, str]]:
    """(the backup container, its crontab command) for each store whose blueprint declares a
    backup: the container of the compose file that dumps it, and its rendered
    `<container>.crontab` line; fails where a declared backup has no container. Where the dumps
    go to AWS S3, mc is pointed at the harness's AWS S3 stand-in, as the SDK is
    (stack.aws_stand_in): BACKUP_S3_ENDPOINT is the one variable changed."""
    bp = yaml.safe_load((REPO / "blueprints" / s.example / "blueprint.yaml").read_text())
    # A dump job per PostgreSQL store; an s3 store's `backup` is versioning, with no job.
    declared = [name for name, store in (bp.get("stores") or {}).items()
                if store.get("backup") and store.get("kind") == "postgres"]
    if not declared:
        pytest.skip("no store declares a backup")
    runners = [cs[0] for cs in s.containers.values() if "BACKUP_DATABASE_URL" in cs[0].env]
    assert len(runners) == len(declared), f"backups of {declared} declared, and the render runs {runners}"
    out = []
    for runner in runners:
        if "amazonaws.com" in runner.env["BACKUP_S3_ENDPOINT"]:
            if "managed-s3" not in s.containers:
                continue
            runner.env["BACKUP_S3_ENDPOINT"] = stack.MANAGED_S3_URL
        lines = [c for c in backup_crontab(s, runner) if c.split()[2] == runner.service]
        assert len(lines) == 1, lines
        out.append((runner, lines[0]))
    if not out:
        pytest.skip("the backups go to AWS S3 here, and the AWS S3 stand-in is not running")
    return out


def backup_crontab(s: Stack, runner: Container) -> list[str]:
    """The commands of the backup container's rendered crontab (`jobs/<container>.crontab`)."""
    tab = s.work / "jobs" / f"{runner.service}.crontab"
    return [line.split(None, 5)[5] for line in tab.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def in_backup(s: Stack, runner: Container, script: str, env: dict | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
    return s.exec(runner, [script], shell=True, timeout=timeout, env=env)


def admin_url(runner: Container) -> str:
    """The backed-up server's maintenance database (`postgres`), as the backup's own user."""
    url = urllib.parse.urlsplit(runner.env["BACKUP_DATABASE_URL"])
    return urllib.parse.urlunsplit(url._replace(path="/postgres"))


def table_digests(s: Stack, runner: Container) -> dict[str, str]:
    """Every table of the database: its row count and a digest of every row, in order."""
    sql = ("SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), %L)) "
           "FROM %I.%I t', schemaname || '.' || tablename, '', schemaname, tablename) "
           "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
    r = in_backup(s, runner, f'psql "$BACKUP_DATABASE_URL" -X -At -v ON_ERROR_STOP=1 -c "{sql}"')
    assert r.returncode == 0, r.stderr[-2000:]
    digests = {}
    for statement in r.stdout.splitlines():
        q = in_backup(s, runner, "psql \"$BACKUP_DATABASE_URL\" -X -At -F ' ' -v ON_ERROR_STOP=1 -c "
                      + shlex.quote(statement))
        assert q.returncode == 0, q.stderr[-2000:]
        name, count, digest = q.stdout.split()
        digests[name] = f"{count} {digest}"
    return digests


# A dump's name: its UTC time, `.dump`, and `.gpg` where the blueprint encrypts them.
DUMP = re.compile(r"\d{8}T\d{6}Z\.dump(\.gpg)?")


def dumps(s: Stack, runner: Container) -> list[str]:
    """The dump names restore.sh lists (its dry run)."""
    r = in_backup(s, runner, "/bin/sh /etc/blueprint/restore.sh")
    assert r.returncode == 0, r.stderr[-2000:]
    return [line for line in r.stdout.splitlines() if DUMP.fullmatch(line)]


def bucket_keys(s: Stack, runner: Container, prefix: str) -> list[str]:
    r = in_backup(s, runner, 'export MC_CONFIG_DIR="$(mktemp -d)"; '
                  'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                  f'mc ls "b/$BACKUP_BUCKET/{prefix}/"')
    assert r.returncode == 0, r.stderr[-2000:]
    return sorted(line.split()[-1] for line in r.stdout.splitlines())


def put_key(s: Stack, runner: Container, key: str, body: str) -> None:
    r = in_backup(s, runner, 'export MC_CONFIG_DIR="$(mktemp -d)"; '
                  'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                  f'printf %s {shlex.quote(body)} | mc pipe "b/$BACKUP_BUCKET/{key}"')
    assert r.returncode == 0, r.stderr[-2000:]


def pushed(s: Stack, job: str) -> dict[str, float]:
    """The gauges the Pushgateway holds for `job`."""
    _, _, body = http(f"http://{s.addr('pushgateway')}:9091/metrics")
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r'^(\w+)\{([^}]*)\} (\S+)$', line)
        if m and f'job="{job}"' in m.group(2):
            out[m.group(1)] = float(m.group(3))
    return out


def test_a_backup_restores_every_row(booted: Stack):
    """Seed rows, run the backup exactly as the scheduler runs it, drop the database, restore
    the newest dump with the rendered restore script, and compare every row of every table."""
    runners = backup_runners(booted)
    booted.wait_all_healthy()
    for runner, command in runners:
        seed = ("CREATE TABLE IF NOT EXISTS backup_probe (id int PRIMARY KEY, note text, at timestamptz, blob bytea); "
                "INSERT INTO backup_probe SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'row ' || i || ' é\t\"q' END, "
                "'2026-01-01'::timestamptz + i * interval '1 minute', decode(md5(i::text), 'hex') "
                "FROM generate_series(1, 2000) i ON CONFLICT DO NOTHING")
        r = in_backup(booted, runner, f'psql "$BACKUP_DATABASE_URL" -X -v ON_ERROR_STOP=1 -c {shlex.quote(seed)}')
        assert r.returncode == 0, r.stderr[-2000:]
        before = table_digests(booted, runner)
        assert before["public.backup_probe"].startswith("2000 "), before

        r = in_backup(booted, runner, command)
        assert r.returncode == 0, f"{command}\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
        listed = dumps(booted, runner)
        assert listed, r.stdout
        # The size pushed is the size stored.
        size = int(in_backup(booted, runner, 'export MC_CONFIG_DIR="$(mktemp -d)"; '
                             'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                             f'mc stat --json "b/$BACKUP_BUCKET/$BACKUP_PREFIX/{listed[-1]}"').stdout.split('"size": ')[1].split(",")[0])
        gauges = pushed(booted, runner.service)
        assert gauges.get("blueprint_backup_size_bytes") == size > 0, (gauges, size)
        assert gauges.get("blueprint_job_last_exit_code") == 0, gauges

        admin = admin_url(runner)
        for sql in ("DROP DATABASE app WITH (FORCE)", "CREATE DATABASE app"):
            r = in_backup(booted, runner, f'psql {shlex.quote(admin)} -X -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}')
            assert r.returncode == 0, f"{sql}: {r.stderr[-2000:]}"
        assert table_digests(booted, runner) == {}

        r = in_backup(booted, runner, "/bin/sh /etc/blueprint/restore.sh --apply")
        assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
        assert listed[-1] in r.stdout, r.stdout
        assert table_digests(booted, runner) == before


def test_a_backup_that_cannot_log_in_alerts_and_keeps_no_dump(booted: Stack, webhook: Webhook):
    """A wrong database password: the run fails, keeps no dump (nor a partial one), records the
    failure in the Pushgateway, and BackupFailed reaches a receiver; the next good run clears it."""
    if "alertmanager" not in booted.containers:
        pytest.skip("no alerting here")
    runners = backup_runners(booted)
    booted.wait_all_healthy()
    runner, command = runners[0]
    prefix = runner.env["BACKUP_PREFIX"]
    before = bucket_keys(booted, runner, prefix)
    since = mark(webhook, booted)
    wrong = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1wrong-password@", runner.env["BACKUP_DATABASE_URL"])
    assert wrong != runner.env["BACKUP_DATABASE_URL"]
    r = in_backup(booted, runner, command, env={"BACKUP_DATABASE_URL": wrong})
    assert r.returncode != 0, r.stdout[-2000:]
    assert f"run-job: {runner.service} failed" in r.stderr, r.stderr[-2000:]
    assert "password authentication failed" in r.stderr, r.stderr[-2000:]
    assert bucket_keys(booted, runner, prefix) == before
    assert pushed(booted, runner.service).get("blueprint_job_last_exit_code") == 1
    wait_for(lambda: arrived(webhook, booted, since, "BackupFailed", runner.service), 120,
             f"BackupFailed for {runner.service}")

    r = in_backup(booted, runner, command)
    assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
    wait_for(lambda: arrived(webhook, booted, since, "BackupFailed", runner.service, resolved=True), 120,
             f"BackupFailed for {runner.service} resolved")


def test_backup_retention_removes_only_expired_dumps(booted: Stack):
    """Dumps older than the retention go, younger ones and every other key stay; and the newest
    dump stays even when it too is older than the retention."""
    runners = backup_runners(booted)
    booted.wait_all_healthy()
    runner, command = runners[0]
    prefix = runner.env["BACKUP_PREFIX"]
    retention = int(runner.env["BACKUP_RETENTION_SECONDS"])
    now = time.time()
    stamp = lambda t: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)) + ".dump"  # noqa: E731
    expired = [stamp(now - retention - 3600), stamp(now - 3 * retention)]
    kept = [stamp(now - retention + 3600), stamp(now - 60)]
    for name in expired + kept:
        put_key(booted, runner, f"{prefix}/{name}", f"not a dump: {name}")
    put_key(booted, runner, f"{prefix}/README.txt", "not a dump at all")
    elsewhere = prefix.rsplit("/", 1)[0] + "/other-store"
    put_key(booted, runner, f"{elsewhere}/{expired[0]}", "another store's dump")
    existing = set(bucket_keys(booted, runner, prefix))

    r = in_backup(booted, runner, command)
    assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
    after = set(bucket_keys(booted, runner, prefix))
    new = after - existing
    assert len(new) == 1, (sorted(existing), sorted(after))
    assert not after & set(expired), sorted(after)
    assert set(kept) | {"README.txt"} <= after, sorted(after)
    assert bucket_keys(booted, runner, elsewhere) == [expired[0]]

    # With no retention at all, every dump but the newest goes. Dump names have a resolution of
    # one second: a run within the same second as the last would replace its dump, not add one.
    time.sleep(1.1)
    r = in_backup(booted, runner, command, env={"BACKUP_RETENTION_SECONDS": "0"})
    assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
    remaining = bucket_keys(booted, runner, prefix)
    left = [k for k in remaining if DUMP.fullmatch(k)]
    assert len(left) == 1 and left[0] not in after and left[0] > max(after - {"README.txt"}), (sorted(after), left)
    assert "README.txt" in remaining, remaining


def test_an_encrypted_dump_is_unreadable_without_its_key(booted: Stack):
    """Where the blueprint gives the backup an encryption key, what reaches the bucket is a gpg
    message, not a PostgreSQL dump; restoring it without the key, or with another, fails and
    changes nothing; with the key it restores."""
    runners = [(r, c) for r, c in backup_runners(booted) if r.env.get("BACKUP_ENCRYPTION_KEY")]
    if not runners:
        pytest.skip("no backup here is encrypted")
    booted.wait_all_healthy()
    for runner, command in runners:
        r = in_backup(booted, runner, command)
        assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
        newest = dumps(booted, runner)[-1]
        assert newest.endswith(".dump.gpg"), newest
        head = in_backup(booted, runner, 'export MC_CONFIG_DIR="$(mktemp -d)"; '
                         'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                         f'mc cat "b/$BACKUP_BUCKET/$BACKUP_PREFIX/{newest}" | head -c 5 | od -An -c')
        assert head.returncode == 0 and "P   G   D   M   P" not in head.stdout, head.stdout
        before = table_digests(booted, runner)
        r = in_backup(booted, runner, "psql \"$BACKUP_DATABASE_URL\" -X -v ON_ERROR_STOP=1 -c 'CREATE TABLE IF NOT EXISTS after_the_dump (id int)'")
        assert r.returncode == 0, r.stderr[-2000:]
        changed = table_digests(booted, runner)
        for env, says in (({"BACKUP_ENCRYPTION_KEY": ""}, "is encrypted; set BACKUP_ENCRYPTION_KEY"),
                          ({"BACKUP_ENCRYPTION_KEY": "not-the-key"}, "nothing was changed")):
            r = in_backup(booted, runner, "/bin/sh /etc/blueprint/restore.sh --apply", env=env)
            assert r.returncode != 0 and says in r.stderr, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
            assert table_digests(booted, runner) == changed
        r = in_backup(booted, runner, "/bin/sh /etc/blueprint/restore.sh --apply")
        assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
        # --clean drops what the dump holds; a table made after it stays, the rest is the dump.
        assert {k: v for k, v in table_digests(booted, runner).items() if k != "public.after_the_dump"} == before


def test_the_lake_keeps_every_version_for_its_retention(booted: Stack):
    """`backup` on an s3 store means versioning and a lifecycle rule for noncurrent versions.
    Where the bucket is MinIO, the stack's bucket-creation container has turned versioning on;
    where it is on AWS, the rendered s3/<store>/ request bodies are applied as docs/operations.md
    says (boto3 here, for the AWS CLI) and read back as written. Either way an overwritten
    object's previous version is kept, and copying it back by its version restores it."""
    import boto3

    bp = yaml.safe_load((REPO / "blueprints" / booted.example / "blueprint.yaml").read_text())
    lakes = {n: st for n, st in (bp.get("stores") or {}).items() if st.get("kind") == "s3" and st.get("backup")}
    if not lakes:
        pytest.skip("no s3 store declares a backup")
    booted.wait_all_healthy()
    providers = (bp["environments"].get(booted.env_name) or {}).get("stores") or {}
    checked = 0
    for name, store in lakes.items():
        bucket = store.get("bucket") or f"{bp['project']['name']}-{name}"
        if providers.get(name, "container") == "container":
            endpoint = f"http://{booted.addr(name)}:9000"
        elif "managed-s3" in booted.containers:
            endpoint = stack.MANAGED_S3_URL
        else:
            continue
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="stand-in", aws_secret_access_key="stand-in")
        if endpoint == stack.MANAGED_S3_URL:
            rendered = booted.work / "s3" / name
            versioning = json.loads((rendered / "versioning.json").read_text())
            lifecycle = json.loads((rendered / "lifecycle.json").read_text())
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=versioning)
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle)
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            assert [r["ID"] for r in rules] == [r["ID"] for r in lifecycle["Rules"]], rules
            assert rules[0]["NoncurrentVersionExpiration"] == lifecycle["Rules"][0]["NoncurrentVersionExpiration"]
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", f"{name}: not versioned"
        key = "harness/versioned.parquet"
        first = s3.put_object(Bucket=bucket, Key=key, Body=b"first")["VersionId"]
        s3.put_object(Bucket=bucket, Key=key, Body=b"second")
        versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]]
        assert first in versions and len(versions) >= 2, versions
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key, "VersionId": first})
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"
        checked += 1
    if not checked:
        pytest.skip("the lake is on AWS here, and the AWS S3 stand-in is not running")


def remove_key(s: Stack, runner: Container, key: str) -> None:
    r = in_backup(s, runner, 'export MC_CONFIG_DIR="$(mktemp -d)"; '
                  'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                  f'mc rm "b/$BACKUP_BUCKET/{key}"')
    assert r.returncode == 0, r.stderr[-2000:]


def scratch_servers() -> list[str]:
    """The command lines of the restore test's scratch PostgreSQL servers still running (its
    `-c fsync=off` on a unix socket only), wherever they run."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fsync=off" in words and b"listen_addresses=" in words:
            out.append(b" ".join(words).decode(errors="replace"))
    return out


def test_a_restore_test_proves_the_newest_dump_and_alerts_when_it_does_not_restore(booted: Stack, webhook: Webhook):
    """The rendered restore-test crontab line, run as the scheduler would after a backup:
    it restores the newest dump into a scratch server of its own, pushes success and the table
    count, and leaves no server nor scratch directory behind. A corrupt newest dump (garbage,
    encrypted with the job's key where the blueprint encrypts, so that pg_restore is what
    fails) fails the run, pushes the failure, and BackupRestoreTestFailed reaches a receiver;
    once the dump is gone the next run, given no usable database URL, succeeds again."""
    if "alertmanager" not in booted.containers:
        pytest.skip("no alerting here")
    bp = yaml.safe_load((REPO / "blueprints" / booted.example / "blueprint.yaml").read_text())
    declared = [name for name, store in (bp.get("stores") or {}).items()
                if (store.get("backup") or {}).get("restore_test")]
    if not declared:
        pytest.skip("no store declares a restore test")
    runners = backup_runners(booted)
    booted.wait_all_healthy()
    runner, backup = runners[0]
    job = runner.service.removesuffix("-backup") + "-restore-test"
    tests = [c for c in backup_crontab(booted, runner) if c.split()[2] == job]
    assert len(tests) == 1, backup_crontab(booted, runner)
    test = tests[0]
    prefix = runner.env["BACKUP_PREFIX"]

    r = in_backup(booted, runner, backup)
    assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
    newest = dumps(booted, runner)[-1]
    tmp_before = in_backup(booted, runner, "ls -A /tmp").stdout.split()
    started = time.time()
    r = in_backup(booted, runner, test, timeout=300)
    took = time.time() - started
    assert r.returncode == 0, f"{test}\n{r.stdout[-2000:]}{r.stderr[-2000:]}"
    assert "run-job:" not in r.stderr, r.stderr[-2000:]
    assert f"{newest} (" in r.stdout and "restores, with" in r.stdout, r.stdout
    gauges = pushed(booted, job)
    assert gauges.get("blueprint_job_last_exit_code") == 0, gauges
    assert gauges.get("blueprint_restore_test_tables", 0) >= 1, gauges
    made = calendar.timegm(time.strptime(newest.split(".")[0], "%Y%m%dT%H%M%SZ"))
    assert 0 <= gauges.get("blueprint_restore_test_dump_age_seconds", -1) <= time.time() - made + 5, (gauges, newest)
    # The scratch server is stopped and its directory removed.
    assert scratch_servers() == []
    left = [n for n in in_backup(booted, runner, "ls -A /tmp").stdout.split()
            if n not in tmp_before and not n.startswith("blueprint-job-")]
    assert left == [], left
    print(f"restore test of {newest}: {took:.1f} s")

    # A corrupt newest dump: garbage bytes, sealed with the job's key when dumps are encrypted.
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 60)) + ".dump"
    if newest.endswith(".gpg"):
        name += ".gpg"
        r = in_backup(booted, runner, 'export MC_CONFIG_DIR="$(mktemp -d)" GNUPGHOME="$(mktemp -d)"; '
                      'mc alias set b "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null; '
                      'head -c 4096 /dev/urandom | gpg --batch --quiet --pinentry-mode loopback '
                      '--passphrase "$BACKUP_ENCRYPTION_KEY" --symmetric --output - '
                      f'| mc pipe "b/$BACKUP_BUCKET/{prefix}/{name}"; status=$?; '
                      'gpgconf --kill gpg-agent; rm -rf "$GNUPGHOME"; exit $status')
        assert r.returncode == 0, r.stderr[-2000:]
    else:
        put_key(booted, runner, f"{prefix}/{name}", "PGDMP garbage, not a dump")
    assert dumps(booted, runner)[-1] == name
    since = mark(webhook, booted)
    try:
        r = in_backup(booted, runner, test, timeout=300)
        assert r.returncode != 0, r.stdout[-2000:]
        assert f"run-job: {job} failed" in r.stderr, r.stderr[-2000:]
        assert "pg_restore" in r.stderr, r.stderr[-2000:]
        if name.endswith(".gpg"):
            # It decrypted: what failed is the restore.
            assert "the decryption 0" in r.stderr, r.stderr[-2000:]
        assert pushed(booted, job).get("blueprint_job_last_exit_code") == 1
        assert scratch_servers() == []
        wait_for(lambda: arrived(webhook, booted, since, "BackupRestoreTestFailed", job), 120,
                 f"BackupRestoreTestFailed for {job}")
    finally:
        remove_key(booted, runner, f"{prefix}/{name}")

    # Nothing of the real database is needed: a URL to nowhere changes nothing.
    r = in_backup(booted, runner, test, timeout=300,
                  env={"BACKUP_DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:1/none"})
    assert r.returncode == 0, f"{r.stdout[-2000:]}{r.stderr[-2000:]}"
    wait_for(lambda: arrived(webhook, booted, since, "BackupRestoreTestFailed", job, resolved=True), 120,
             f"BackupRestoreTestFailed for {job} resolved")


def kubelet_env(work: Path, env_name: str, service: str, container: str | None = None,
                kind: str = "containers") -> tuple[dict[str, str], list[dict]]:
    """What the kubelet builds the environment of a container of `service`'s Deployment (the
    app's, or the init container `container` with kind="initContainers") from, in the rendered
    overlay: the ConfigMap's values (envFrom) and the `env` entries in order (base first, then the
    overlay's patch, as kustomize merges them by name). expand_kubelet applies the entries."""
    container = container or service
    overlay = work / "kubernetes" / "overlays" / env_name
    config = yaml.safe_load((overlay / "config" / f"{service}.yaml").read_text())
    env = {k: str(v) for k, v in config["data"].items()}
    patch = yaml.safe_load((overlay / "patches" / f"{service}.yaml").read_text())
    entries = []
    for doc in [deployment(work, service), patch]:
        for c in doc["spec"]["template"]["spec"].get(kind, []):
            if c["name"] == container:
                entries += c.get("env", [])
    return env, entries


def deployment(work: Path, service: str) -> dict:
    """The base's Deployment of `service`."""
    return next(d for d in yaml.safe_load_all((work / "kubernetes" / "base" / "services" / f"{service}.yaml").read_text())
                if d and d.get("kind") == "Deployment")


def expand_kubelet(env: dict[str, str], entries: list[dict], pod_ip: str,
                   namespace: str = "default") -> dict[str, str]:
    """Each entry in turn, as the kubelet sets it: `$(VAR)` expanded from what is set so far, the
    pod's address and namespace where the downward API gives status.podIP and
    metadata.namespace, stand-ins for Secrets."""
    for var in entries:
        source = var.get("valueFrom") or {}
        field = source.get("fieldRef", {}).get("fieldPath")
        if field == "status.podIP":
            value = pod_ip
        elif field == "metadata.namespace":
            value = namespace
        elif field:
            raise AssertionError(f"{var['name']}: a downward API field the harness does not know: {field}")
        elif "secretKeyRef" in source:
            value = stack.stand_in(source["secretKeyRef"]["key"])
        else:
            value = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)),
                           var.get("value", ""))
        env[var["name"]] = value
    return env


def test_kubernetes_probes_pass_at_the_pod_address(booted: Stack):
    """What runs of the Kubernetes render outside a cluster: each Django pod's container with the
    environment the kubelet would give it, probed as the kubelet probes (`Host: <pod IP>:<port>`)
    and scraped as Prometheus scrapes a pod. No scheduler, Service, NetworkPolicy or Ingress runs."""
    overlays = booted.work / "kubernetes" / "overlays"
    if not overlays.is_dir() or "api" not in booted.containers:
        pytest.skip("no Kubernetes render here")
    booted.wait_healthy("api")
    compose_api = booted.containers["api"][0]
    for n, env_dir in enumerate(sorted(p for p in overlays.iterdir() if (p / "config" / "api.yaml").exists())):
        pod_ip = f"127.0.3.{n + 1}"
        base_env, entries = kubelet_env(booted.work, env_dir.name, "api")
        env = dict(compose_api.image_env)  # PATH and the image's ENV, as the image gives them
        env.update(expand_kubelet(base_env, entries, pod_ip))
        pod = dataclasses.replace(compose_api, name=f"api-pod-{env_dir.name}", addr=pod_ip, env=env, proc=None)
        booted.start(pod)
        try:
            def answers(path: str):
                return http(f"http://{pod_ip}:8000{path}", host=f"{pod_ip}:8000", timeout=5)[0]

            assert wait_for(lambda: answers("/healthz") == 200 or None, 60,
                            f"{env_dir.name}: the kubelet's probe at the pod address")
            assert answers("/metrics") == 200, f"{env_dir.name}: a pod scrape"
        finally:
            stack._kill(pod.proc)


# Names in the Kubernetes render that the cluster's own services answer to, and the service of
# the stack that stands in for each: the Pushgateway a cluster's monitoring runs (the
# prometheus-pushgateway chart, in the namespace the render names).
CLUSTER_NAMES = {"prometheus-pushgateway.monitoring.svc": "pushgateway"}


def kubernetes_jobs(work: Path) -> tuple[list[dict], dict[str, dict]]:
    """The base's CronJobs and the ConfigMaps they mount, by name."""
    docs = [d for path in sorted((work / "kubernetes" / "base" / "jobs").glob("*.yaml"))
            for d in yaml.safe_load_all(path.read_text()) if d]
    return ([d for d in docs if d["kind"] == "CronJob"],
            {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"})


def test_kubernetes_jobs_run_with_the_cronjob_environment(booted: Stack):
    """Each CronJob's command, as its pod would run it: the image of the service it runs in (or
    the backup job's own image, which the Compose stack builds from the same Dockerfile), the
    environment the kubelet builds (ConfigMap, base env, the overlay's patch, Secrets by stand-in),
    its volumes (run-job.sh, backup.sh and restore.sh from their ConfigMaps, emptyDir as tmpfs),
    against this stack's database (staging's in-cluster `db`) or the managed one's stand-in (prod)
    and the AWS S3 stand-in, and the outcome pushed to the cluster's Pushgateway. Every backup
    CronJob the blueprint's `backup` implies must be among them, and leave a dump under its
    prefix. No scheduler, Job controller or NetworkPolicy runs."""
    overlays = booted.work / "kubernetes" / "overlays"
    if not (booted.work / "kubernetes" / "base" / "jobs").is_dir():
        pytest.skip("no Kubernetes jobs here")
    booted.wait_all_healthy()
    for name, service in CLUSTER_NAMES.items():
        booted.add_host(name, booted.addr(service))
    cronjobs, configmaps = kubernetes_jobs(booted.work)
    # The backups last, each before its restore test: they then dump a database the services'
    # migrations have given tables, and the restore test has a dump of it to restore.
    cronjobs.sort(key=lambda c: c["metadata"]["name"].endswith(("-backup", "-restore-test")))
    pushgateway = f"http://{booted.addr('pushgateway')}:9091"
    ran = []
    for n, overlay in enumerate(sorted(p for p in overlays.iterdir() if (p / "patches").is_dir())):
        for cronjob in cronjobs:
            job = cronjob["metadata"]["name"]
            pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            spec = pod["containers"][0]
            # The compose service built from the same image provides the filesystem: the same
            # repository (the backup job's is pushed under the registry's name, built locally
            # by Compose under the same last path segment).
            image = spec["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1]
            source = next(cs[0] for cs in booted.containers.values()
                          if cs[0].spec.get("image", "").rsplit(":", 1)[0].rsplit("/", 1)[-1] == image)
            config = {}
            for ref in spec.get("envFrom", []):
                cm = next(yaml.safe_load(p.read_text()) for p in sorted((overlay / "config").glob("*.yaml"))
                          if yaml.safe_load(p.read_text())["metadata"]["name"] == ref["configMapRef"]["name"])
                config.update({k: str(v) for k, v in cm["data"].items()})
            patch = yaml.safe_load((overlay / "patches" / f"job-{job}.yaml").read_text())
            entries = spec.get("env", []) + next(
                c.get("env", []) for c in patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
                if c["name"] == spec["name"])
            env = dict(source.image_env)
            namespace = yaml.safe_load((overlay / "kustomization.yaml").read_text())["namespace"]
            env.update(stack.aws_stand_in(expand_kubelet(config, entries, f"127.0.3.{20 + n}", namespace)))
            if any(stack.MANAGED_DB_HOST in env.get(v, "") for v in ("DATABASE_URL", "BACKUP_DATABASE_URL")):
                booted.managed_db()
            if "AWS_ENDPOINT_URL_S3" in env:
                booted.managed_s3({env["S3_BUCKET"]})
            # mc is pointed at the AWS S3 stand-in as the SDK is (see backup_runners).
            if "amazonaws.com" in env.get("BACKUP_S3_ENDPOINT", ""):
                env["BACKUP_S3_ENDPOINT"] = stack.MANAGED_S3_URL
                booted.managed_s3({env["BACKUP_BUCKET"]})
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            mounts = [m for m in source.mounts if m[0] == "bind" and m[2] in (source.workdir, "/opt/venv")]
            for vm in spec.get("volumeMounts", []):
                volume = volumes[vm["name"]]
                if "emptyDir" in volume:
                    mounts.append(("tmpfs", "", vm["mountPath"]))
                elif "configMap" in volume:
                    data = configmaps[volume["configMap"]["name"]]["data"]
                    path = booted.root / "configmaps" / volume["configMap"]["name"] / vm["subPath"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(data[vm["subPath"]])
                    path.chmod(volume["configMap"].get("defaultMode", 0o644))
                    mounts.append(("bind", str(path), vm["mountPath"]))
                else:
                    raise AssertionError(f"{job}: a volume the harness does not know: {volume}")
            user = str(pod["securityContext"]["runAsUser"])
            runner = dataclasses.replace(source, name=f"{job}-{overlay.name}", addr=f"127.0.3.{20 + n}",
                                         env=env, mounts=mounts, user=user, proc=None)
            deployed = (booted.work / "kubernetes" / "base" / "services" / f"{source.service}.yaml").exists()
            if deployed and not any(r[0] == overlay.name and r[2] for r in ran):
                # The schema, as the service's pods migrate it before they start: the Deployment's
                # init container with its own kubelet environment, as the CronJob's user.
                service = source.service
                for init in deployment(booted.work, service)["spec"]["template"]["spec"].get("initContainers", []):
                    init_env = dict(source.image_env)
                    init_env.update(stack.aws_stand_in(expand_kubelet(
                        *kubelet_env(booted.work, overlay.name, service, init["name"], "initContainers"),
                        f"127.0.3.{20 + n}")))
                    migrator = dataclasses.replace(runner, name=f"{init['name']}-{overlay.name}", env=init_env)
                    r = booted.exec(migrator, init.get("command", []) + init.get("args", []), timeout=180)
                    assert r.returncode == 0, f"{overlay.name} {init['name']}: {r.stdout[-1000:]}{r.stderr[-2000:]}"
            started = time.time()
            r = booted.exec(runner, spec["command"] + spec.get("args", []), timeout=300)
            assert r.returncode == 0, f"{overlay.name} {job}: {r.stdout[-1000:]}{r.stderr[-2000:]}"
            assert "run-job:" not in r.stderr, f"{overlay.name} {job}: {r.stderr[-2000:]}"
            _, _, body = http(f"{pushgateway}/metrics")
            # Each environment's run lands in its own group: the namespace is in the grouping key,
            # so staging's and prod's outcomes (one Pushgateway here) never overwrite each other.
            groups = {m.group(1): float(m.group(2)) for m in re.finditer(
                r'^blueprint_job_last_success_timestamp_seconds\{(?=[^}]*job="' + re.escape(job)
                + r'")[^}]*namespace="([^"]*)"[^}]*\} (\S+)$', body.decode(), re.M)}
            assert groups.get(namespace, 0) >= int(started), f"{overlay.name} {job}: no success pushed in {namespace}: {groups}"
            earlier = [o for o, j, _ in ran if j == job]
            assert len(groups) == len(earlier) + 1, f"{overlay.name} {job}: one group per namespace: {groups}"
            if job.endswith("-restore-test"):
                # It restored the newest dump (the backup CronJob's, which ran just before).
                assert pushed(booted, job).get("blueprint_restore_test_tables", 0) >= 1, \
                    f"{overlay.name} {job}: no table count pushed"
            elif "BACKUP_PREFIX" in env:
                # A dump of this run under the store's prefix, and its size pushed with the outcome.
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
                keys = bucket_keys(booted, runner, env["BACKUP_PREFIX"])
                assert any(k.endswith(".dump") and k >= stamp for k in keys), f"{overlay.name} {job}: {keys}"
                assert pushed(booted, job).get("blueprint_backup_size_bytes", 0) > 0, \
                    f"{overlay.name} {job}: no dump size pushed"
            ran.append((overlay.name, job, deployed))
    assert ran, "no CronJob ran"
    bp = yaml.safe_load((REPO / "blueprints" / booted.example / "blueprint.yaml").read_text())
    backups = {f"{name}-backup" for name, store in (bp.get("stores") or {}).items()
               if store.get("backup") and store.get("kind") == "postgres"}
    backups |= {f"{name}-restore-test" for name, store in (bp.get("stores") or {}).items()
                if (store.get("backup") or {}).get("restore_test")}
    for overlay in sorted(p.name for p in overlays.iterdir() if (p / "patches").is_dir()):
        missing = backups - {job for env_name, job, _ in ran if env_name == overlay}
        assert not missing, f"{overlay}: the backups of {sorted(missing)} ran nowhere (no CronJob)"


# Grafana's $__rate_interval for the rendered 15 s scrape interval (4 scrapes).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "${__rate_interval}": "1m"}
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*[{\[]")


def test_dashboard_panel_queries_run_on_the_live_prometheus(booted: Stack):
    """Grafana does not run here; what its panels would ask does. Every panel query evaluates
    without error, and every metric a panel selects exists in the stack (so no panel stays empty
    because it names a metric nothing exposes). Placed after the job scenario, whose runs push
    the job metrics (where it was skipped, those may be absent)."""
    dashboards = sorted((booted.work / "monitoring" / "grafana" / "dashboards").glob("*.json"))
    if "prometheus" not in booted.containers or not dashboards:
        pytest.skip("no dashboards here")
    booted.wait_all_healthy()
    send_traffic(booted)
    conf = yaml.safe_load((booted.work / f"monitoring/prometheus/prometheus.{booted.env_name}.yml").read_text())
    jobs_here = {j["job_name"] for j in conf["scrape_configs"]}
    missing = []
    for path in dashboards:
        board = json.loads(path.read_text())
        panels = [p for row in board.get("panels", []) for p in [row] + row.get("panels", [])]
        for panel in panels:
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                for var, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(var, value)
                assert "$" not in expr, f"{path.name}: a variable the harness does not know in {expr}"
                query(booted, expr)  # asserts the query evaluates
                # The dashboards serve every environment: a panel over a job another one has
                # (the public HTTPS probe where there is TLS) stays empty here, rightly.
                if set(re.findall(r'job="([^"]+)"', expr)) - jobs_here:
                    continue
                for metric in set(SELECTOR.findall(expr)):
                    if metric.startswith("blueprint_job_") and not getattr(booted, "jobs_reported", False):
                        continue
                    selector = f"count({{__name__={json.dumps(metric)}}})"
                    try:  # the traffic above shows at the next scrape
                        wait_for(lambda: query(booted, selector), 3 * stack.MIN_SCRAPE + 2, metric)
                    except AssertionError:
                        missing.append(f"{path.name} / {panel.get('title')}: {metric}")
    assert not missing, "panels select metrics nothing exposes:\n" + "\n".join(sorted(set(missing)))
