"""The service's own Prometheus series, next to BentoML's ``bentoml_service_*``."""

from __future__ import annotations

from collections.abc import Iterable

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

# Admission (sentiment.http.admission): gauges are per worker, combined across workers.
QUEUED = prometheus_client.Gauge(
    "sentiment_admission_queued",
    "Requests waiting for admission, summed over live workers",
    multiprocess_mode="livesum",
)
IN_FLIGHT = prometheus_client.Gauge(
    "sentiment_admission_in_flight",
    "Requests admitted and not yet answered, summed over live workers",
    multiprocess_mode="livesum",
)
LIMIT = prometheus_client.Gauge(
    "sentiment_admission_limit",
    "Requests the workers admit at once now (each at most SENTIMENT_MAX_IN_FLIGHT)",
    multiprocess_mode="livesum",
)
QUEUE_DELAY = prometheus_client.Gauge(
    "sentiment_admission_queue_delay_seconds",
    "How long the oldest waiting request has waited, the worst worker",
    multiprocess_mode="livemax",
)
EXPECTED_WAIT = prometheus_client.Gauge(
    "sentiment_admission_expected_wait_seconds",
    "Wait a request arriving now would expect (queue / service rate), worst worker",
    multiprocess_mode="livemax",
)
SERVICE_RATE = prometheus_client.Gauge(
    "sentiment_admission_service_rate",
    "Requests a second the workers finish when saturated (measured), summed",
    multiprocess_mode="livesum",
)
REFUSALS = prometheus_client.Counter(
    "sentiment_admission_refusals_total",
    "Requests refused by overload control, by reason and tenant",
    labelnames=["reason", "tenant"],
)
# Per tenant: configured names only (sentiment.http.tenants), never a key.
TENANT_ADMITTED = prometheus_client.Counter(
    "sentiment_tenant_admitted_total",
    "Model requests admitted, by tenant",
    labelnames=["tenant"],
)
TENANT_WAIT = prometheus_client.Histogram(
    "sentiment_tenant_queue_delay_seconds",
    "How long each admitted request waited for admission, by tenant",
    labelnames=["tenant"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0),
)
TENANT_LATENCY = prometheus_client.Histogram(
    "sentiment_tenant_request_seconds",
    "Admitted requests, from admission's first look at the head to the answer's "
    "last byte handed to the server, by tenant (the server's part of latency)",
    labelnames=["tenant"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.0, 5.0),
)
TENANT_REVIEWS = prometheus_client.Counter(
    "sentiment_tenant_reviews_total",
    "Reviews sent to the model in an adaptive batch, by tenant",
    labelnames=["tenant"],
)
BATCH_DROPS = prometheus_client.Counter(
    "sentiment_batch_dropped_total",
    "Admitted requests left out of their batch: deadline passed or client gone",
    labelnames=["reason", "tenant"],
)

# The Open Inference Protocol over gRPC (sentiment.rpc.server), by registered method:
# BentoML's request series are HTTP's.
GRPC_CALLS = prometheus_client.Counter(
    "sentiment_grpc_requests_total",
    "gRPC calls answered, by method and status code",
    labelnames=["method", "code"],
)
GRPC_LATENCY = prometheus_client.Histogram(
    "sentiment_grpc_request_duration_seconds",
    "Seconds from a gRPC call's arrival to its answer, by method",
    labelnames=["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Live model swaps (sentiment.lifecycle.live) and shadow scoring
# (sentiment.lifecycle.shadow).
MODEL_SWAPS = prometheus_client.Counter(
    "sentiment_model_swaps_total",
    "Production pointer changes a worker acted on: swapped, or refused (checks failed)",
    labelnames=["outcome"],
)
MODEL_SERVING = prometheus_client.Gauge(
    "sentiment_model_serving",
    "Workers serving each model tag now (1 per worker; 0 once swapped out)",
    labelnames=["tag"],
    multiprocess_mode="livesum",
)
SHADOW_AGREEMENT = prometheus_client.Counter(
    "sentiment_shadow_reviews_total",
    "Reviews the shadow model scored, by whether its label agreed with the live one",
    labelnames=["agree"],
)
SHADOW_SCORE = prometheus_client.Histogram(
    "sentiment_shadow_score",
    "The shadow model's score: the probability of its label",
    buckets=[i / 10 for i in range(1, 11)],
)
SHADOW_DROPPED = prometheus_client.Counter(
    "sentiment_shadow_dropped_total",
    "Reviews not shadow-scored because the shadow fell behind (queue full)",
)


class TenantSeries:
    """One tenant's admission series, labels bound once (no lookup per request).

    Every series of a configured tenant exists from the start, so a dashboard
    or alert sees 0 rather than nothing.
    """

    def __init__(self, tenant: str, reasons: Iterable[str]) -> None:
        self.refused = {r: REFUSALS.labels(reason=r, tenant=tenant) for r in reasons}
        self.admitted = TENANT_ADMITTED.labels(tenant=tenant)
        self.wait = TENANT_WAIT.labels(tenant=tenant)
        self.latency = TENANT_LATENCY.labels(tenant=tenant)
        TENANT_REVIEWS.labels(tenant=tenant)
        for reason in ("deadline", "disconnect"):
            BATCH_DROPS.labels(reason=reason, tenant=tenant)
