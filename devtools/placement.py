"""Which process holds each end of a TCP connection, from ``/proc``.

BentoML's workers share one listening socket, so the kernel decides where a new
connection lands. Tests that need connections spread a given way across the
workers open connections and keep the ones that landed where wanted;
``bench.shapes`` counts each worker's connections by the wrk process (the tenant)
at their other end.
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
    """Established TCP sockets on a connection to ``port``: inode -> client port.

    ``local``: the server's sockets (their own port is ``port``), else its
    clients' (their peer's is); either way keyed by the client's port, which
    names the connection at both ends.
    """
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            own, peer, state, inode = fields[1], fields[2], fields[3], fields[9]
            server_end, client_end = (own, peer) if local else (peer, own)
            if state == "01" and int(server_end.rsplit(":", 1)[1], 16) == port:
                out[int(inode)] = int(client_end.rsplit(":", 1)[1], 16)
    return out


def holders(root_pid: int, port: int, local: bool = True) -> dict[int, int]:
    """Client port -> the PID, ``root_pid`` or a descendant, holding that end.

    ``local``: the server's end (a server at ``root_pid`` listening on
    ``port``), else the client's (clients under ``root_pid`` connected to it).
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
