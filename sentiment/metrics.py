"""The service's own Prometheus series, next to BentoML's ``bentoml_service_*``."""

from __future__ import annotations

import prometheus_client

PREDICTIONS = prometheus_client.Counter(
    name="sentiment_predictions_total",
    documentation="Reviews classified, by predicted label",
    labelnames=["label"],
)
REJECTIONS = prometheus_client.Counter(
    name="sentiment_rejected_requests_total",
    documentation="Requests to /classify refused, by the rule they broke",
    labelnames=["rule"],
)
LOG_ERRORS = prometheus_client.Counter(
    name="sentiment_prediction_log_errors_total",
    documentation="Prediction log lines lost because the log could not be written",
)
LOG_DROPPED = prometheus_client.Counter(
    name="sentiment_prediction_log_dropped_total",
    documentation="Classified requests not logged because the log queue was full",
)
