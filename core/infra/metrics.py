"""Prometheus metrics of the hub: imports, orders, pushes, shop calls, jobs.

Counters live in the process's default registry; ``hub serve`` exposes them at ``/metrics``.
Connectors may count their shop calls with ``SHOP_CALLS`` (core's API: connectors never import
prometheus themselves).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

IMPORTS = Counter("hub_imports_total", "Import runs by outcome.", ["connector", "outcome"])
ORDERS = Counter("hub_orders_imported_total", "Orders written by imports, by kind.", ["connector", "kind"])
PUSHES = Counter("hub_parcel_pushes_total", "Tracking pushes of parcels, by outcome.", ["connector", "outcome"])
CHECKS = Counter(
    "hub_parcel_checks_total",
    "Questions about parcels a shop accepted and settles later, by what the shop said.",
    ["connector", "state"],
)
SHOP_CALLS = Counter(
    "hub_shop_calls_total", "HTTP calls to shops, by connector, operation and status.", ["connector", "operation", "status"]
)
JOB_LATENCY = Histogram(
    "hub_job_latency_seconds",
    "Seconds from when a job was due (its enqueue, or its retry time) to its start, by entrypoint.",
    ["entrypoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_DURATION = Histogram(
    "hub_job_duration_seconds", "Seconds a job ran, by entrypoint.", ["entrypoint"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
