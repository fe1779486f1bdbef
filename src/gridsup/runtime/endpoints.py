"""Where sockets live: ``ipc://`` files in a per-run directory created 0700.

Layout (``base`` is ``$GRIDSUP_RUN_DIR``, else ``$XDG_RUNTIME_DIR/gridsup``, else
``/tmp/gridsup-<uid>``)::

    base/                      0700, owned by us
      supervisor.json          pid + run dir of the running supervisor (discovery)
      run-<pid>/               0700, one per supervisor run, removed on a clean exit
        report.sock            actors PUSH -> supervisor PULL
        command.sock           supervisor PUB -> actors SUB
        control.sock           gridsup status|stop REQ -> supervisor ROUTER
        <anything>.sock        actor-to-actor channels

TCP is used only on an explicit address (:func:`tcp_endpoint`); nothing binds to a
wildcard address by default.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
from pathlib import Path

from gridsup.runtime.liveness import process_alive

ENV_RUN_DIR = "GRIDSUP_RUN_DIR"

REPORT = "report"
COMMAND = "command"
CONTROL = "control"

# Topics on the command PUB socket. ZeroMQ matches prefixes, so a NUL terminator keeps
# "grid-1" from also receiving what is meant for "grid-10".
BROADCAST_TOPIC = b"*\x00"

# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_IPC_PATH = 107


class EndpointError(ValueError):
    """A run directory or endpoint that is unsafe or unusable; the message says why."""


def beat_topic(interval: float, phase: int = 0) -> bytes:
    """The command-socket topic of the supervisor's beat for actors that heartbeat every
    ``interval`` seconds, in ``phase`` of that interval. One topic per interval and
    phase, because the publisher filters: actors of another interval or phase are not
    woken by this beat. "/" never occurs in an actor name, so no actor's own topic can
    match it."""
    return f"/beat/{float(interval)!r}/{phase}".encode() + b"\x00"


def command_topic(actor: str) -> bytes:
    """The command-socket topic that reaches exactly the actor named ``actor``."""
    return actor.encode() + b"\x00"


def default_base() -> Path:
    """The base directory for run directories and the supervisor pointer file."""
    explicit = os.environ.get(ENV_RUN_DIR)
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "gridsup"
    return Path("/tmp") / f"gridsup-{os.getuid()}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700, or check an existing one.

    Raises:
        EndpointError: ``path`` exists but belongs to another user, is not a directory,
            or is readable/writable by group or others (someone could hijack sockets).
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise EndpointError(f"{path}: not a directory")
    if info.st_uid != os.getuid():
        raise EndpointError(f"{path}: owned by uid {info.st_uid}, not by us ({os.getuid()})")
    if info.st_mode & 0o077:
        raise EndpointError(f"{path}: mode {oct(info.st_mode & 0o777)} is not private (want 0700)")
    return path


class RunDir:
    """One supervisor run's private directory of ``ipc://`` endpoints.

    Children receive the path (not the object) and rebuild it with :meth:`attach`.
    """

    __slots__ = ("base", "path")

    def __init__(self, path: Path, base: Path | None = None) -> None:
        self.path = path
        self.base = base if base is not None else path.parent

    @classmethod
    def create(cls, base: Path | None = None, name: str | None = None) -> RunDir:
        """Create ``base/run-<pid>`` with mode 0700 (the base too).

        Raises:
            EndpointError: the base or run directory is not private to us, or the
                endpoint paths would be too long for a unix socket.
        """
        root = ensure_private_dir(base if base is not None else default_base())
        _sweep_stale(root)
        path = root / (name or f"run-{os.getpid()}")
        if path.exists():
            # A leftover of a killed run with our pid number: its sockets are dead.
            shutil.rmtree(path)
        run = cls(ensure_private_dir(path), root)
        run.endpoint("x" * 24)  # fail now, not at the first bind, if paths are too long
        return run

    @classmethod
    def attach(cls, path: str | Path) -> RunDir:
        """The run directory a child was given; it must already exist and be private.

        Raises:
            EndpointError: it is missing or not private.
        """
        p = Path(path)
        if not p.is_dir():
            raise EndpointError(f"{p}: run directory is missing")
        return cls(ensure_private_dir(p))

    def endpoint(self, name: str) -> str:
        """``ipc://`` endpoint of the socket called ``name`` in this run.

        Raises:
            EndpointError: ``name`` is not a plain file name or the path is too long.
        """
        if not name or "/" in name or name.startswith("."):
            raise EndpointError(f"bad endpoint name {name!r}")
        sock = self.path / f"{name}.sock"
        if len(str(sock).encode()) > _MAX_IPC_PATH:
            raise EndpointError(
                f"{sock}: longer than {_MAX_IPC_PATH} bytes; set {ENV_RUN_DIR} to a shorter path"
            )
        return f"ipc://{sock}"

    def remove(self) -> None:
        """Delete the run directory and its socket files (clean exit only)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"


def _sweep_stale(root: Path) -> None:
    """Remove ``run-<pid>`` directories whose supervisor is dead (it was SIGKILLed and
    could not clean up); their sockets have no listener."""
    for entry in root.glob("run-*"):
        pid = entry.name.removeprefix("run-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if not process_alive(int(pid)):  # a zombie's sockets have no listener either
            shutil.rmtree(entry, ignore_errors=True)


def tcp_endpoint(address: str) -> str:
    """``tcp://host:port`` for an explicit address; wildcards are refused.

    Raises:
        EndpointError: no port, a bad port, or a wildcard host (``*``, 0.0.0.0, ::).
    """
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EndpointError(f"tcp address {address!r}: want host:port")
    if host == "*":
        raise EndpointError(f"tcp address {address!r}: wildcard hosts are not allowed")
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False  # a host name: zmq resolves it; only numeric wildcards are refused
    if unspecified:
        raise EndpointError(f"tcp address {address!r}: give an explicit interface address")
    return f"tcp://{address}"
