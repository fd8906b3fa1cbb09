"""Send exactly the bytes a hostile client would, and read the status back.

httpx and urllib normalise what they send (paths, lengths, header names); these
helpers put raw bytes on a socket to 127.0.0.1, so tests can send control
characters, lying lengths or chunked bodies as they are.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    """What came back: the status (0 when the server closed without one)."""

    status: int
    head: bytes
    body: bytes


def raw_request(
    port: int,
    method: bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes | Iterable[bytes] = b"",
    timeout: float = 30.0,
) -> RawResponse:
    """One HTTP/1.1 request on a new connection (``Connection: close``).

    Args:
        port: the server's port on 127.0.0.1.
        method: sent as is.
        target: the request target, sent as is (percent-encode what must be).
        headers: sent as is, in order; nothing is added but Host and Connection.
        body: bytes sent as they are, or chunks sent with chunked encoding.
        timeout: seconds for the whole exchange.
    """
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Connection: close")
    if isinstance(body, bytes):
        payload = body
    else:
        lines.append(b"Transfer-Encoding: chunked")
        payload = (
            b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in body if c) + b"0\r\n\r\n"
        )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body was sent
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = (
        int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    )
    return RawResponse(status, head, rest)
