"""Becomes one container: run by stack.py under `unshare -m` (a mount namespace of its own).

Mounts the container's volumes, bind mounts, tmpfs and secrets at their targets, switches to its
user and working directory, and execs its command with its environment (netshim preloaded).
Two images are programs the harness adapts: `@postgres` (the postgres image's entrypoint: initdb
with POSTGRES_USER/PASSWORD/DB on first start, then the server) and `@minio` (moto's S3 server
where MinIO's `server /data --address :9000` would run).
"""

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack  # noqa: E402


def mount_all(mounts, user):
    for kind, source, target in mounts:
        t = Path(target)
        is_file = kind == "bind" and Path(source).is_file()
        # Mount points must exist: the harness creates missing ones (empty) on the machine.
        if is_file:
            t.parent.mkdir(parents=True, exist_ok=True)
            if not t.exists():
                t.touch()
        else:
            t.mkdir(parents=True, exist_ok=True)
        if kind == "tmpfs":
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", target], check=True)
        else:
            if kind == "volume" and not any(Path(source).iterdir()):
                # A new named volume takes the image's ownership of its mount point.
                os.chown(source, *stack.resolve_uid(user))
            subprocess.run(["mount", "--bind", source, target], check=True)


def postgres_argv(spec):
    env = spec["env"]
    data = Path(env.get("PGDATA", "/var/lib/postgresql/data"))
    pw = pwd.getpwnam("postgres")
    os.chown(data, pw.pw_uid, pw.pw_gid)
    data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        pwfile = Path("/tmp/.pgpass-init")
        pwfile.write_text(env.get("POSTGRES_PASSWORD", ""))
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        user = env.get("POSTGRES_USER", "postgres")
        subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                        stack.pg_bin("initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
                        "--auth=scram-sha-256", "--auth-local=trust"], check=True, stdout=subprocess.DEVNULL)
        pwfile.unlink()
        (data / "postgresql.auto.conf").write_text("unix_socket_directories = '/tmp'\n")
        db = env.get("POSTGRES_DB", user)
        if db != "postgres":
            # initdb's bootstrap user owns the database the image would create.
            (data / "blueprint-harness-createdb").write_text(f"{user} {db}\n")
    argv = [stack.pg_bin("postgres"), "-D", str(data), "-c", f"listen_addresses={spec['addr']}",
            "-p", "5432", "-c", "unix_socket_directories=/tmp"]
    if env.get("STACK_PG_TLS"):
        # The managed provider's stand-in speaks TLS as Supabase does: clients that default to
        # sslmode=require (postgres_exporter's lib/pq) need it.
        cert, key = data / "server.crt", data / "server.key"
        if not cert.exists():
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                            "-subj", f"/CN={spec['name']}", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            for f in (cert, key):
                os.chown(f, pw.pw_uid, pw.pw_gid)
                f.chmod(0o600)
        argv += ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"]
    return argv


def create_database_later(spec):
    """The image creates POSTGRES_DB on first start; here a child does once the server is up."""
    env = spec["env"]
    data = Path(env.get("PGDATA", "/var/lib/postgresql/data"))
    marker = data / "blueprint-harness-createdb"
    if not marker.exists():
        return
    user, db = marker.read_text().split()
    if os.fork() == 0:
        for _ in range(100):
            r = subprocess.run([stack.pg_bin("psql"), "-h", "/tmp", "-U", user, "-d", "postgres", "-tAc",
                                f'CREATE DATABASE "{db}"'], capture_output=True, text=True)
            if r.returncode == 0 or "already exists" in r.stderr:
                marker.unlink(missing_ok=True)
                os._exit(0)
            import time

            time.sleep(0.2)
        os._exit(1)


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    mounts = spec["mounts"]
    if not any(target == "/tmp" for _, _, target in mounts):
        # Every container has a /tmp of its own, as its image's file system gives it: shared,
        # one PostgreSQL's socket lock (/tmp/.s.PGSQL.5432.lock) stops the next stack's.
        mounts = [("tmpfs", "", "/tmp")] + mounts
    mount_all(mounts, spec["user"])
    env = dict(spec["env"])
    env["STACK_ADDR"] = spec["addr"]
    env["LD_PRELOAD"] = str(stack.netshim())
    argv = spec["argv"]
    user = spec["user"]
    if argv and argv[0] == "@postgres":
        argv = postgres_argv(spec)
        create_database_later(spec)
    elif argv and argv[0] == "@minio":
        # `server /data --address :9000`: moto keeps its buckets in memory.
        port = "9000"
        if "--address" in argv:
            port = argv[argv.index("--address") + 1].rsplit(":", 1)[1]
        argv = [stack._tool("moto_server"), "-H", spec["addr"], "-p", port]
    elif argv and argv[0] == "redis-server":
        argv = argv + ["--bind", spec["addr"], "--dir", "/data", "--protected-mode", "no"]
        Path("/data").mkdir(exist_ok=True)
        os.chown("/data", *stack.resolve_uid(user))
    if argv and not os.path.isabs(argv[0]) and "/" not in argv[0]:
        for d in env.get("PATH", "").split(":") + [str(stack.VENV / "bin")]:
            if d and os.access(os.path.join(d, argv[0]), os.X_OK):
                argv = [os.path.join(d, argv[0])] + argv[1:]
                break
    os.chdir(spec["workdir"])
    uid, gid = stack.resolve_uid(user)
    if uid != 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
