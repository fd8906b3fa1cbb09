"""The service's own log lines: BentoML's text format, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from sentiment.telemetry.request_ids import current_request_id

SERVICE_LOGGER = "bentoml.service.sentiment"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the request ID when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """Log the service's own lines as JSON (``json``), or BentoML's way (``text``)."""
    logger = logging.getLogger(SERVICE_LOGGER)
    logger.setLevel(logging.INFO)
    if log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.handlers = [handler]
    logger.propagate = False
