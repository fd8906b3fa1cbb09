"""Real servers for tests, benchmarks and load tests: ``ops.servers``, shared.

The promotion gate starts a real server too, and ``ops`` must not import the test
harness; so the starter lives in ``ops.servers`` and the harness uses it from here.
"""

from ops.servers import (
    BIN_DIR,
    PROJECT_DIR,
    READY_TIMEOUT_S,
    bentoml_process,
    bentoml_serve,
    free_port,
    isolated_home,
    ready_process,
    serve_command,
    stop,
    tail,
    wait_ready,
)

__all__ = [
    "BIN_DIR",
    "PROJECT_DIR",
    "READY_TIMEOUT_S",
    "bentoml_process",
    "bentoml_serve",
    "free_port",
    "isolated_home",
    "ready_process",
    "serve_command",
    "stop",
    "tail",
    "wait_ready",
]
