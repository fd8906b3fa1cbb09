"""Which worker of a server holds each client connection, from ``/proc``.

BentoML's workers share one listening socket, so the kernel decides where a new
connection lands. Tests that need connections spread a given way across the
workers open connections and keep the ones that landed where wanted.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from devtools.proc import descendants


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def server_inodes(port: int) -> dict[int, int]:
    """Established TCP sockets whose local port is ``port``: inode -> client port."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                out[int(inode)] = int(remote.rsplit(":", 1)[1], 16)
    return out


def holders(server_pid: int, port: int) -> dict[int, int]:
    """Client port -> the PID of the worker holding that connection."""
    by_inode = server_inodes(port)
    out = {}
    for pid in descendants(server_pid):
        try:
            held = socket_inodes(pid)
        except OSError:
            continue
        for inode in held & by_inode.keys():
            out[by_inode[inode]] = pid
    return out


def client_port(connection: socket.socket) -> int:
    """The local port of a client socket."""
    port: int = connection.getsockname()[1]
    return port
