"""SIGTERM under load: in-flight requests finish with 200, then the server exits."""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from devtools.corpus import corpus_reviews
from devtools.servers import (
    free_port,
    isolated_home,
    ready_process,
    serve_command,
)

pytestmark = pytest.mark.e2e
CLIENTS = 64
TEXTS_PER_REQUEST = 256
LOAD_SECONDS_BEFORE_TERM = 4.0
GRACE_S = 30.0
SEND_MARGIN_S = 0.05  # a request counts as in flight once it was sent this long before


def test_sigterm_finishes_in_flight_requests(
    trained_model: str, tmp_path: Path
) -> None:
    reviews = list(corpus_reviews())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "BENTOML_HOME": str(isolated_home(tmp_path)),
        # Queue everything: this test is about shutdown, not load shedding.
        "SENTIMENT_MAX_LATENCY_MS": "60000",
        "SENTIMENT_TIMEOUT_S": "60",
        "SENTIMENT_MAX_IN_FLIGHT": "1000",
    }
    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    lock = threading.Lock()
    term_at: list[float] = []
    stop = threading.Event()

    def client(i: int) -> None:
        start_index = (i * TEXTS_PER_REQUEST) % (len(reviews) - TEXTS_PER_REQUEST)
        body = {"texts": reviews[start_index : start_index + TEXTS_PER_REQUEST]}
        with httpx.Client(timeout=GRACE_S + 30) as http:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    outcome = str(http.post(f"{url}/classify", json=body).status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                in_flight = not term_at or sent < term_at[0] - SEND_MARGIN_S
                with lock:
                    outcomes[("in flight" if in_flight else "after", outcome)] += 1
                if not in_flight:
                    return

    command = serve_command("service:SentimentClassifier", port)
    with ready_process(command, url, log, env) as server:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(LOAD_SECONDS_BEFORE_TERM)
            term_at.append(time.monotonic())
            server.send_signal(signal.SIGTERM)
            exit_code = server.wait(GRACE_S)
            exit_after = time.monotonic() - term_at[0]
        finally:
            stop.set()
            for thread in threads:
                thread.join(GRACE_S)

    print(
        f"SIGTERM: exit {exit_code} after {exit_after:.1f}s; outcomes {dict(outcomes)}"
    )
    in_flight = {k[1]: v for k, v in outcomes.items() if k[0] == "in flight"}
    after = {k[1]: v for k, v in outcomes.items() if k[0] == "after"}
    assert exit_code == 0
    assert exit_after < GRACE_S
    assert in_flight.get("200", 0) >= CLIENTS, in_flight
    assert set(in_flight) == {"200"}, f"in-flight requests lost: {in_flight}"
    # Requests sent after the signal are refused at the connection, never a 5xx.
    assert not any(status.startswith("5") for status in after), after
