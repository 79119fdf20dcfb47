"""Helpers shared by the tests, one version of each.

Tests import them from here (``tests.helpers.<module>``), never from a test module
or a conftest: conftest files hold fixtures only.

- ``app``: settings, the engine app running its lifespan, a client of it;
- ``halls``: the test hall, seeded with an account of every kind;
- ``api``: issuing tickets, window actions, problem+json checks, 前方还有N人;
- ``db``: the PostgreSQL server, emptying tables, whole-database snapshots;
- ``cli``: the installed ``jiaohao`` command; the environment of engine processes;
- ``processes``: engine processes (uvicorn) and calls through them;
- ``bookings``: a partner's signed client, bookings, a webhook receiver;
- ``net``: free loopback ports, local paths of URLs;
- ``nginx``: Debian's nginx running the shipped site (deploy/nginx) as a test process;
- ``waiting``: polling a condition with a deadline (never sleeping for timing);
- ``browser``: headless Chromium, or why a browser test cannot run.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
