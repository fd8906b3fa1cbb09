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
