"""The engine's Prometheus metrics, declared once per process (services/engine/metrics.py
wires them: the request middleware, the hub's committed events, the pool, /metrics).

prometheus-client keeps a metric's value in this process, or, when the environment
names a directory in ``PROMETHEUS_MULTIPROC_DIR`` before the first import (``jiaohao
serve --workers N`` does), in a file of that directory per process: /metrics then adds
the processes up. A gauge says how: ``livesum`` adds the running processes' values,
``liveall`` shows each process (label ``pid``).

Labels hold codes and numbers only, never personal data; ``hall`` holds the hall's
id here, replaced by its code when /metrics is read (the events carry the id).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No *_created series: the multi-process mode has none, and one process should say the same.
disable_created_metrics()

# Request durations (and counts: the histogram's _count) by route template and status.
HTTP_REQUESTS = Histogram(
    "jiaohao_http_request_duration_seconds",
    "HTTP requests by route template, method and status: seconds to the last byte",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Ticket steps, counted from the committed events (ticket.issued -> outcome "issued").
TICKETS = Counter(
    "jiaohao_tickets",
    "Ticket steps committed (issued, called, recalled, started, finished, no_show, ...)",
    ["hall", "service", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "jiaohao_events_published", "Hall events committed by this engine (outbox rows)", ["type"]
)
EVENTS_DELIVERED = Counter(
    "jiaohao_bus_events_delivered", "Hall events handed to open bus sockets (one per socket)"
)
DELIVERY_LAG = Histogram(
    "jiaohao_bus_delivery_lag_seconds",
    "From an event's commit to its fan-out to this process's sockets",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0),
)
BUS_SOCKETS = Gauge(
    "jiaohao_bus_sockets",
    "Open bus WebSockets (screens, gateways)",
    ["hall"],
    multiprocess_mode="livesum",
)
GROUP_COMMIT_BATCH = Histogram(
    "jiaohao_group_commit_batch_size",
    "Requests written together in one group-commit transaction",
    ["kind"],
    buckets=(1, 2, 3, 5, 10, 20, 50, 100),
)
DB_POOL_IN_USE = Gauge(
    "jiaohao_db_pool_connections_in_use",
    "Database connections checked out of the engines' pools",
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "jiaohao_db_pool_connections_max",
    "Connections the engines' pools may open (pool size plus overflow)",
    multiprocess_mode="livesum",
)
LISTENER_CONNECTED = Gauge(
    "jiaohao_event_listener_connected",
    "1 while the process's PostgreSQL LISTEN connection is up (events, access changes)",
    multiprocess_mode="liveall",
)
PROCESSES = Gauge(
    "jiaohao_engine_processes", "Engine processes serving", multiprocess_mode="livesum"
)
