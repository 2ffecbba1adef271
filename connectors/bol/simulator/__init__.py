"""A bol.com that runs on 127.0.0.1: the token endpoint and the Retailer API v10 as far as the hub uses it.

For tests, benchmarks, the contract kit and the demo; never a replacement for the real client code
path. Start it with ``hub bol simulator`` or in-process::

    async with run_simulator(SimulatorConfig(settle_delay=0.2)) as sim:
        sim.url          # one base URL: POST /token, /retailer/..., /shared/..., /_sim/... (admin)
        sim.state        # SimulatorState: clock, retailers, orders, shipments, statuses, subscriptions

What it serves (each module's docstring has the details):

- ``POST /token`` (``token``): client credentials in Basic auth, 299-second bearer tokens, counted
  per client id; ``401 invalid_client`` for wrong ones; an expired token answers
  ``401 {"title": "Expired JWT", ...}``.
- ``GET /retailer/retailers/current`` (``retailers``): the retailer behind the token.
- Orders (``orders``): list (filters, 50 per page, ``{}`` when none), detail, cancellation.
- Shipments (``shipments``): ``POST /retailer/shipments`` answered 202 with a ``ProcessStatus`` that
  settles to SUCCESS (the shipment exists, quantities shipped) or FAILURE/TIMEOUT; lists, detail;
  ``PUT /retailer/transports/{id}``.
- Process statuses (``process_status``): by id (404 after retention), by entity and event type, bulk.
- Subscriptions (``subscriptions``) and signed webhook deliveries with retries and disabling
  (``webhooks``), signature keys, key rotation.
- Rate limits per endpoint with ``X-RateLimit-*`` and 429 + ``Retry-After`` (``ratelimit``),
  switchable off; media type ``application/vnd.retailer.v10+json`` required both ways (406/415),
  errors as ``Problem`` objects (``problems``).
- Faults on demand (``faults``): 5xx, 429, 401, slow answers, hangs, cut connections, and lost
  answers after the work was done.
- The admin API (``admin``): state, orders, settling, faults, keys, deliveries, token and shipment
  counts.

In-process shortcuts on ``sim.state`` (each has an admin route): ``token_for(retailer_id)`` (a bearer
token without ``/token``, not counted), ``new_order(**OrderCreate fields)``, ``request_cancellation``,
``settle_due()`` / ``settle(id, outcome)`` / ``settle_all()``, ``shipment_counts()`` and
``shipments_made()``, ``faults.add([FaultRule(...)])``, ``rotate_keys()``, ``deliveries``,
``clients[client_id].token_requests``, ``calls``, and ``await wait_for(predicate)`` to wait for a
condition without sleeping.

The defaults a client needs: ``DEFAULT_CLIENT_ID`` / ``DEFAULT_CLIENT_SECRET`` are the credentials
of the first retailer, ``DEFAULT_RETAILER_ID`` (``1055479``); a world with ``retailers=n`` gives
retailer k (1-based) the id ``1055479 + k - 1`` and the credentials ``client_id(k)`` /
``client_secret(k)``. Process statuses settle ``settle_delay`` seconds (simulated clock, default 1)
after the 202; webhook retries come ``retry_interval`` real seconds apart (default 60: set it
short in tests).
"""

from .app import RunningSimulator, create_app, run_simulator
from .arrival import ItemCreate, OrderCreate
from .config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RETAILER_ID,
    SimulatorConfig,
    client_id,
    client_secret,
    retailer_id,
)
from .faults import FaultRule, parse_faults
from .state import STATE, SimulatorState

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_RETAILER_ID",
    "STATE",
    "FaultRule",
    "ItemCreate",
    "OrderCreate",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorState",
    "client_id",
    "client_secret",
    "create_app",
    "parse_faults",
    "retailer_id",
    "run_simulator",
]
