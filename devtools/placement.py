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


def tcp_inodes(port: int, local: bool = True) -> dict[int, int]:
    """Established TCP sockets to ``port``: inode -> the port at the other end.

    ``local``: sockets whose own port is ``port`` (a server's), else sockets
    whose peer's is (its clients').
    """
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            ours, theirs, state, inode = fields[1], fields[2], fields[3], fields[9]
            if not local:
                ours, theirs = theirs, ours
            if state == "01" and int(ours.rsplit(":", 1)[1], 16) == port:
                out[int(inode)] = int(theirs.rsplit(":", 1)[1], 16)
    return out


def holders(root_pid: int, port: int, local: bool = True) -> dict[int, int]:
    """The other end's port -> the PID, ``root_pid`` or a descendant, holding it.

    ``local``: the connections a server at ``root_pid`` holds on ``port``, by
    client port; else the connections to ``port`` its clients under
    ``root_pid`` hold, by their own port.
    """
    by_inode = tcp_inodes(port, local)
    out = {}
    for pid in descendants(root_pid):
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
