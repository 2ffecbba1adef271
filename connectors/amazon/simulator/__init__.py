"""An Amazon that runs on 127.0.0.1: Seller Central consent, LWA, Sellers, Orders 2026-01-01 and v0.

For tests, benchmarks and the demo; never a replacement for the real client code path. Start it
with ``hub amazon simulator`` or in-process::

    async with run_simulator(SimulatorConfig(orders_per_seller=200)) as sim:
        sim.url          # base URL for Seller Central, LWA and the SP-API
        sim.state        # SimulatorState: clock, sellers, orders, grants, faults, confirmations
"""

from .app import RunningSimulator, create_app, run_simulator
from .config import SimulatorConfig
from .state import STATE, SimulatorState

__all__ = ["STATE", "RunningSimulator", "SimulatorConfig", "SimulatorState", "create_app", "run_simulator"]
