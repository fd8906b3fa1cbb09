"""Locust overload scenarios for POST /classify: a spike and a fixed arrival rate.

Single reviews, no think time unless paced. A 503 with ``Retry-After`` and the
``overloaded`` error body is the service refusing work it cannot do in time: it is
counted apart (as ``/classify [refused]``), not as a failure. Anything else that
is not a correct 200 (a connection error, a 5xx, a 503 without ``Retry-After``)
is a failure.

Scenarios (``LOCUST_SCENARIO``):
    spike      ramp to ``LOCUST_SPIKE_USERS`` (1,000) users in
               ``LOCUST_SPIKE_RAMP_S`` (10 s), hold, then back to 10 users;
               users send as soon as they get an answer (closed loop).
    openloop   ``LOCUST_RATE`` requests/s in total (default 4,000), each user
               paced with ``constant_throughput`` (Locust's fixed arrival rate):
               with enough users (``LOCUST_USERS``, 1,000) a slow answer does
               not slow the arrivals, so goodput and the p99 of *admitted*
               requests count; it runs ``LOCUST_OPENLOOP_S`` (30 s).
    tenants    two API keys (``LOCUST_KEY_A``, ``LOCUST_KEY_B``: tenants of the
               server's ``SENTIMENT_TENANTS_FILE``), no think time:
               ``LOCUST_USERS_A`` (1,000) users of A, ``LOCUST_USERS_B`` (8) of B,
               for ``LOCUST_TENANTS_S`` (30 s); requests are named by tenant, and
               the run also fails when B is refused at all (A's 429s are its own).

At exit, the run fails (exit code 1) on any failure, or when the p99 of admitted
requests is over ``LOCUST_ADMITTED_P99_MS`` (1,000, the latency budget; 0 = off).
Run: ``make loadtest-spike`` / ``make loadtest-openloop`` (docs/overload.md).
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import (
    FastHttpUser,
    LoadTestShape,
    constant,
    constant_throughput,
    events,
    task,
)

from devtools.corpus import corpus_reviews
from loadtests.checks import check_predictions, is_refusal

REVIEWS = list(corpus_reviews())
SCENARIO = os.environ.get("LOCUST_SCENARIO", "spike")
ADMITTED = "/classify [1]"
REFUSED = "/classify [refused]"


def pacing() -> Any:
    """No think time for the spike; the per-user share of the rate otherwise."""
    if SCENARIO != "openloop":
        return constant(0)
    users = int(os.environ.get("LOCUST_USERS", "1000"))
    return constant_throughput(float(os.environ.get("LOCUST_RATE", "4000")) / users)


class OverloadUser(FastHttpUser):
    """A client posting one review per request."""

    abstract = SCENARIO == "tenants"
    wait_time = pacing()
    admitted, refused = ADMITTED, REFUSED
    headers: dict[str, str] = {}

    @task
    def single_review(self) -> None:
        """One review; a refusal is counted apart, anything wrong fails."""
        with self.client.post(
            "/classify",
            json={"texts": [random.choice(REVIEWS)]},
            headers=self.headers,
            name=self.admitted,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                problem = check_predictions(response.json(), 1)
                if problem:
                    response.failure(problem)
                return
            headers = dict(response.headers or {})
            if is_refusal(response.status_code, headers, response.text or ""):
                response.request_meta["name"] = self.refused
                response.success()
                return
            body = (response.text or "")[:200] or repr(response.error)
            response.failure(f"status {response.status_code}: {body}")


def tenant_user(tenant: str, users: str) -> type[OverloadUser]:
    """The user class of one tenant of the ``tenants`` scenario."""
    key = os.environ.get(f"LOCUST_KEY_{tenant}", "")
    return type(
        f"Tenant{tenant}User",
        (OverloadUser,),
        {
            "abstract": SCENARIO != "tenants",
            "fixed_count": int(os.environ.get(f"LOCUST_USERS_{tenant}", users)),
            "headers": {"Authorization": f"Bearer {key}"} if key else {},
            "admitted": f"/classify [{tenant}]",
            "refused": f"/classify [{tenant} refused]",
            "wait_time": constant(0),
        },
    )


TenantAUser = tenant_user("A", "1000")
TenantBUser = tenant_user("B", "8")


class SpikeShape(LoadTestShape):
    """Spike: ramp, hold, fall back. Open loop: a fixed user count for a while."""

    users = int(os.environ.get("LOCUST_SPIKE_USERS", "1000"))
    ramp_s = float(os.environ.get("LOCUST_SPIKE_RAMP_S", "10"))
    hold_s = float(os.environ.get("LOCUST_SPIKE_HOLD_S", "30"))
    after_s = float(os.environ.get("LOCUST_SPIKE_AFTER_S", "10"))

    def tick(self) -> tuple[int, float] | None:
        """(users, spawn rate) for now, or None to stop."""
        elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]
        if SCENARIO == "tenants":
            users = TenantAUser.fixed_count + TenantBUser.fixed_count
            seconds = float(os.environ.get("LOCUST_TENANTS_S", "30"))
            return (users, users / 5) if elapsed < seconds else None
        if SCENARIO == "openloop":
            users = int(os.environ.get("LOCUST_USERS", "1000"))
            seconds = float(os.environ.get("LOCUST_OPENLOOP_S", "30"))
            return (users, users) if elapsed < seconds else None
        if elapsed < self.ramp_s + self.hold_s:
            return self.users, self.users / self.ramp_s
        if elapsed < self.ramp_s + self.hold_s + self.after_s:
            return 10, self.users
        return None


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def report(environment: Any, **_: Any) -> None:
    """Print goodput and the admitted p99; exit 1 on failures or a slow p99."""
    stats = environment.stats
    seconds = max(stats.last_request_timestamp - stats.start_time, 1e-9)
    limit_ms = float(os.environ.get("LOCUST_ADMITTED_P99_MS", "1000"))
    summary: dict[str, Any] = {"scenario": SCENARIO}
    broken = []
    groups = (
        [(t.__name__[6], t.admitted, t.refused) for t in (TenantAUser, TenantBUser)]
        if SCENARIO == "tenants"
        else [("", ADMITTED, REFUSED)]
    )
    for tenant, admitted_name, refused_name in groups:
        admitted = stats.get(admitted_name, "POST")
        refused = stats.get(refused_name, "POST")
        p99 = admitted.get_response_time_percentile(0.99) or 0.0
        prefix = f"{tenant}_" if tenant else ""
        summary |= {
            f"{prefix}goodput_per_s": round(
                (admitted.num_requests - admitted.num_failures) / seconds, 1
            ),
            f"{prefix}admitted": admitted.num_requests,
            f"{prefix}refused": refused.num_requests,
            f"{prefix}admitted_p99_ms": p99,
        }
        if limit_ms and p99 > limit_ms:
            broken.append(f"{prefix}admitted p99 {p99:.0f} ms > {limit_ms:.0f} ms")
        if tenant == "B" and refused.num_requests:
            broken.append(f"tenant B refused {refused.num_requests} times")
    summary["failures"] = stats.total.num_failures
    if stats.total.num_failures:
        broken.append(f"{stats.total.num_failures} failures")
    verdict = (
        f"OVERLOAD TEST FAILED: {'; '.join(broken)}"
        if broken
        else "OVERLOAD TEST PASSED"
    )
    print(f"{verdict} {json.dumps(summary)}")
    if broken:
        environment.process_exit_code = 1
