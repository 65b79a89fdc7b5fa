"""A throwaway Redis Sentinel set on loopback ports: a master, its replica, and sentinels
watching them with short timeouts, so a failover takes a few seconds, not minutes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from strew.testing import RedisServer, free_port

SERVICE = "strew-master"
DOWN_AFTER_MS = 1000
"""How long the master must be silent before a sentinel calls it down."""
FAILOVER_TIMEOUT_MS = 3000


def _ask(port: int, *command: str) -> str:
    """One inline command to a server on ``port``; its raw reply (empty if it is down)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(" ".join(command).encode() + b"\r\n")
            conn.settimeout(1)
            return conn.recv(65536).decode(errors="replace")
    except OSError:
        return ""


@dataclass
class RedisSentinelSet:
    """A master, one replica of it, and ``sentinels`` sentinels (a quorum of a majority)
    monitoring it as `SERVICE`."""

    sentinels: int = 1
    master: RedisServer | None = None
    replica: RedisServer | None = None
    sentinel_ports: list[int] = field(default_factory=list)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="strew-sen-")))

    def url(self, userinfo: str = "", db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{userinfo}{hosts}/{SERVICE}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.master = RedisServer(appendonly=False)
        self.master.start()
        self.replica = RedisServer(
            appendonly=False, extra=["--replicaof", "127.0.0.1", str(self.master.port)]
        )
        self.replica.start()
        quorum = self.sentinels // 2 + 1
        for index in range(self.sentinels):
            port = free_port()
            config = self._directory / f"sentinel-{index}.conf"
            # Sentinel rewrites its config file as it learns the topology: one file each.
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self._directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} {quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self._processes.append(
                subprocess.Popen(
                    [binary, str(config), "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            self.sentinel_ports.append(port)
        self._wait(self.ready, "the sentinels to see the master and its replica")

    def ready(self) -> bool:
        """Every sentinel knows the current master and a replica that is in sync with it."""
        master = self.master_port()
        if master is None:
            return False
        replication = _ask(master, "INFO", "replication")
        if "connected_slaves:1" not in replication or "state=online" not in replication:
            return False
        return all(
            "strew-master" in _ask(port, "SENTINEL", "MASTERS")
            and "127.0.0.1" in _ask(port, "SENTINEL", "REPLICAS", SERVICE)
            and "s_down" not in _ask(port, "SENTINEL", "REPLICAS", SERVICE)
            for port in self.sentinel_ports
        )

    def master_port(self) -> int | None:
        """The master's port as the first sentinel reports it (None if it cannot say)."""
        reply = _ask(self.sentinel_ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        lines = reply.split("\r\n")
        return int(lines[4]) if len(lines) > 4 and lines[4].isdigit() else None

    def promoted(self) -> bool:
        """The replica has been promoted: the sentinels name it, and it says it is master."""
        assert self.replica is not None
        return self.master_port() == self.replica.port and "role:master" in _ask(
            self.replica.port, "INFO", "replication"
        )

    def kill_master(self) -> None:
        assert self.master is not None
        self.master.stop(kill=True)

    @staticmethod
    def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)

    def cleanup(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for server in (self.master, self.replica):
            if server is not None:
                server.cleanup()
        shutil.rmtree(self._directory, ignore_errors=True)
