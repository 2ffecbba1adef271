"""``ConnectorContract``: the standard tests every hub connector passes, by subclassing one class.

Opting in takes a few lines in the connector's tests::

    from core.testing import ConnectorContract
    from tests.connectors.amazon.scenarios import AmazonScenarios

    class TestAmazonContract(ConnectorContract):
        connector = "amazon"
        scenarios = AmazonScenarios()

The class finds the connector through its ``hub.connectors`` entry point (or ``plugin``), reads its
``manifest.toml``, and runs each check of ``core.testing.checks`` as one test through core's own
``HookRunner``. ``scenarios`` may instead come from a fixture named ``scenarios`` (in the class or
in a conftest.py), for instance one that starts a simulator::

    class TestAmazonContract(ConnectorContract):
        connector = "amazon"

        @pytest.fixture
        def scenarios(self, simulator):
            return AmazonScenarios(simulator)

What the tests check (each test's docstring says it again, and the message of a failure names the
rule and the fix):

- the manifest is valid, carries the connector's id, and lists exactly the implemented hooks;
- the plugin registers cleanly (every hook ``async def``, names and arguments matching the specs),
  beside another connector, and registers again after an unload; ``open_connector`` gives each
  runtime its own state (no module globals);
- connecting, in the connector's connect style (the manifest's ``[connect]``): the consent round
  trip (consent URL with ``state``, callback to working credentials), or pasted credentials (good
  fields are checked with the shop and give credentials that pass ``check_connection``; bad ones
  raise ``ConnectorAuthFailed`` and nothing else);
- ``check_connection`` passes with good stored credentials; bad ones raise ``ConnectorAuthFailed``
  from ``check_connection`` and ``import_orders``;
- a 5xx answer and a timeout raise ``ConnectorNotReady``, a 429 ``RateLimited``;
- imported orders validate as core ``Order``s and their external ids are unique; an incremental
  import from the returned cursor repeats no unchanged order and finds the changed one; the cursor
  never moves backwards; a resumed import neither repeats nor loses orders; a cursor in the future
  yields nothing; an order added or changed while an import runs is not missed (it comes later in
  that run or in the next one: what a full scan over a live list must get right);
- a label gets one ``confirmed`` or ``accepted`` outcome per parcel, again on a repeat (and one
  shipment per parcel at the shop, when the scenarios count them); an ``accepted`` outcome carries
  ``shop_reference`` and ``check_parcels`` keeps it accepted until the shop settles it, then
  answers ``confirmed`` or ``failed`` with the shop's message; a push repeated after the shop lost
  its answer makes no second shipment (when the scenarios can lose an answer);
- ``receive_event`` reads a genuinely signed event (the same ``event_id`` each time) and raises
  ``EventRejected`` for an unsigned, a forged and a stale one;
- opening, using, closing and unloading leaves no open ``aiohttp.ClientSession`` and no pending
  task;
- no secret (stored credentials, pasted secret fields, settings secrets, issued tokens) appears in
  the logs, even at DEBUG.

Every check runs through core's ``HookRunner``, with ``open_connector`` before and
``close_connector`` after and the state in every context, as ``core.infra.runtime`` does. Hooks are
dispatched to their owner only, so the kit no longer checks what a connector does with another
connector's label (hub API v1 broadcast it): core's runner guarantees it never gets one, and
tests/core/test_hooks.py checks that. A check is skipped only when its rule does not apply: an
optional hook the connector does not implement, a connect style it does not use, or the optional
lost-answer moves of its scenarios; the skip reason says which. A rule that applies but needs a
scenario move the ``Scenarios`` lack fails, naming the move.

Every test is marked ``contract``: ``pytest -m contract`` runs the kit alone, ``-m "not contract"``
everything else. The tests are ``async`` and marked for pytest-asyncio, so they also run under
``asyncio_mode = "strict"``.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from core.contract.errors import PluginError
from core.contract.manifest import Manifest
from core.infra.plugins import installed_entry_points
from core.infra.settings import HookSettings
from core.testing import checks
from core.testing.scenario import Scenarios
from core.testing.testbed import Subject

_HOOKS_WITH_FAULTS = ("check_connection", "import_orders")
_REFUSED_EVENTS = tuple(kind for kind in checks.EVENT_KINDS if kind != "genuine")

contract = pytest.mark.contract


class ConnectorContract:
    """Subclass as ``Test<Connector>Contract`` with ``connector`` and ``scenarios`` set.

    Attributes a subclass sets:

    - ``connector`` (required): the connector id, the name of its ``hub.connectors`` entry point
      and the ``id`` of its manifest.
    - ``scenarios``: a ``core.testing.Scenarios`` instance; or leave it unset and provide a fixture
      named ``scenarios``. The kit calls ``start()`` before and ``stop()`` after every test, so one
      instance may serve the whole class.
    - ``plugin``: the object whose hooks are checked; by default the entry point ``connector``,
      loaded. Set it for a connector that is not installed (the kit's own fake connector).
    - ``manifest``: by default read from ``manifest.toml`` beside the plugin's module.
    - ``seed_count`` (5): orders seeded by the import checks; with a page size of 2 that is three
      pages. ``fault_calls`` (20): how many calls a fault lasts, enough to outlast retries.
    - ``call_timeout`` / ``page_timeout`` (10 s): the HookRunner's limits during the checks.
    - ``task_grace`` (1 s): how long tasks started by the connector may take to finish after it is
      unloaded before they count as leaked.
    """

    connector: ClassVar[str] = ""
    scenarios: ClassVar[Scenarios | None] = None
    plugin: ClassVar[object | None] = None
    manifest: ClassVar[Manifest | None] = None
    seed_count: ClassVar[int] = 5
    fault_calls: ClassVar[int] = 20
    call_timeout: ClassVar[float] = 10.0
    page_timeout: ClassVar[float] = 10.0
    task_grace: ClassVar[float] = 1.0

    # the subject --------------------------------------------------------------------------------

    def contract_subject_for(self, request: pytest.FixtureRequest) -> Subject:
        """Build the ``Subject`` of this class's checks; the ``contract_subject`` fixture calls it."""
        if not self.connector:
            pytest.fail(f'{type(self).__name__}: set `connector = "<id>"`, the connector\'s entry point name.')
        return Subject(
            connector=self.connector,
            plugin=self.plugin if self.plugin is not None else self._installed_plugin(),
            scenarios=self._scenarios(request),
            manifest=self.manifest,
            hook_settings=HookSettings(call_timeout=self.call_timeout, page_timeout=self.page_timeout),
            seed_count=self.seed_count,
            fault_calls=self.fault_calls,
            task_grace=self.task_grace,
        )

    def _installed_plugin(self) -> object:
        for point in installed_entry_points():
            if point.name == self.connector:
                return point.load()
        raise PluginError(
            f"No connector {self.connector!r} in the entry point group hub.connectors: install its package, "
            f"or set `plugin = <module>` on {type(self).__name__}."
        )

    def _scenarios(self, request: pytest.FixtureRequest) -> Scenarios:
        given = type(self).scenarios
        if not isinstance(given, Scenarios):
            try:
                given = request.getfixturevalue("scenarios")
            except pytest.FixtureLookupError:
                pytest.fail(
                    f"{type(self).__name__}: set `scenarios = <Scenarios subclass>()` or provide a fixture named "
                    "`scenarios`."
                )
        if not isinstance(given, Scenarios):
            pytest.fail(f"{type(self).__name__}: scenarios is {type(given).__name__}, not a core.testing.Scenarios.")
        return given

    # manifest and registration ------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_manifest_is_valid(self, contract_subject: Subject) -> None:
        """manifest.toml parses, its id is the connector's, its settings model is the one in use."""
        await checks.manifest_is_valid(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_manifest_lists_the_implemented_hooks(self, contract_subject: Subject) -> None:
        """The manifest's hooks are exactly the hooks the plugin implements."""
        await checks.manifest_lists_implemented_hooks(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_registers_cleanly(self, contract_subject: Subject) -> None:
        """Async hooks matching the specs; registers beside another connector and again after unload."""
        await checks.registers_cleanly(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_open_connector_gives_each_runtime_its_own_state(self, contract_subject: Subject) -> None:
        """Two runtimes get two states from open_connector (when implemented): no module globals."""
        await checks.state_is_per_runtime(contract_subject)

    # connecting ---------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_authorize_round_trip(self, contract_subject: Subject) -> None:
        """Consent style: consent URL with state, callback to working credentials (needs Scenarios.consent)."""
        await checks.authorize_round_trip(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_good_credential_fields_connect(self, contract_subject: Subject) -> None:
        """Credentials style: good pasted fields are checked with the shop and give working credentials."""
        await checks.credential_fields_connect(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_bad_credential_fields_raise_auth_failed(self, contract_subject: Subject) -> None:
        """Credentials style: pasted fields the shop refuses raise ConnectorAuthFailed and nothing else."""
        await checks.bad_credential_fields_fail(contract_subject)

    # stored credentials and faults --------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_good_credentials_pass_check_connection(self, contract_subject: Subject) -> None:
        """check_connection returns quietly with good credentials."""
        await checks.good_credentials_pass(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_bad_credentials_raise_auth_failed(self, contract_subject: Subject) -> None:
        """Refused credentials raise ConnectorAuthFailed (the connection needs a reconnect)."""
        await checks.bad_credentials_fail(contract_subject)

    @contract
    @pytest.mark.asyncio
    @pytest.mark.parametrize("hook", _HOOKS_WITH_FAULTS)
    async def test_server_error_means_not_ready(self, contract_subject: Subject, hook: str) -> None:
        """A 5xx answer raises ConnectorNotReady (retry with backoff; the state stays)."""
        await checks.fault_is_mapped(contract_subject, hook, "5xx")

    @contract
    @pytest.mark.asyncio
    @pytest.mark.parametrize("hook", _HOOKS_WITH_FAULTS)
    async def test_timeout_means_not_ready(self, contract_subject: Subject, hook: str) -> None:
        """No answer within the HTTP timeout raises ConnectorNotReady."""
        await checks.fault_is_mapped(contract_subject, hook, "timeout")

    @contract
    @pytest.mark.asyncio
    @pytest.mark.parametrize("hook", _HOOKS_WITH_FAULTS)
    async def test_too_many_requests_means_rate_limited(self, contract_subject: Subject, hook: str) -> None:
        """A 429 answer raises RateLimited (retry after retry_after)."""
        await checks.fault_is_mapped(contract_subject, hook, "429")

    # imports ------------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_imported_orders_validate_with_unique_ids(self, contract_subject: Subject) -> None:
        """Orders validate as core Orders, ids are unique per page and run, seeded orders all arrive."""
        await checks.orders_validate(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_incremental_import_repeats_no_unchanged_order(self, contract_subject: Subject) -> None:
        """From the returned cursor: the changed order again, no unchanged one, then nothing."""
        await checks.incremental_import_repeats_nothing(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_cursor_never_moves_backwards(self, contract_subject: Subject) -> None:
        """cursor.since never decreases within or across runs, and a complete run sets it."""
        await checks.cursor_never_moves_backwards(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_import_resumes_from_a_page_cursor(self, contract_subject: Subject) -> None:
        """Resuming from a middle page's cursor yields exactly the later pages (crash recovery)."""
        await checks.import_resumes_from_a_page_cursor(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_future_cursor_yields_nothing(self, contract_subject: Subject) -> None:
        """A cursor after now yields no orders and is not moved back."""
        await checks.future_cursor_yields_nothing(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_import_misses_no_order_changed_during_a_run(self, contract_subject: Subject) -> None:
        """An order added or changed while an import runs comes later in that run or in the next one."""
        await checks.import_misses_no_change_during_a_run(contract_subject)

    # labels -------------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_label_gets_one_outcome_per_parcel_also_when_repeated(self, contract_subject: Subject) -> None:
        """Confirmed or accepted, one per parcel, again when pushed twice; one shipment per parcel at the shop."""
        await checks.label_outcome_per_parcel(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_accepted_parcels_settle_through_check_parcels(self, contract_subject: Subject) -> None:
        """Accepted until the shop settles, then confirmed, or failed with the shop's message (needs Scenarios.settle)."""
        await checks.accepted_parcels_settle(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_repeated_push_after_lost_answer_makes_no_second_shipment(self, contract_subject: Subject) -> None:
        """The shop made the shipment but its answer was lost: the repeat finds it (Scenarios.lose_next_answer)."""
        await checks.repeated_push_after_lost_answer(contract_subject)

    # events -------------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_genuine_event_is_read(self, contract_subject: Subject) -> None:
        """A genuinely signed event gives an EventMeaning, with the same event_id each time (needs receive_event)."""
        await checks.event_is_verified(contract_subject, "genuine")

    @contract
    @pytest.mark.asyncio
    @pytest.mark.parametrize("kind", _REFUSED_EVENTS)
    async def test_unverified_event_is_rejected(self, contract_subject: Subject, kind: str) -> None:
        """An unsigned, forged or stale event raises EventRejected (answered 401, nothing changes)."""
        await checks.event_is_verified(contract_subject, kind)

    # hygiene ------------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_setup_and_unload_leave_no_sessions_or_tasks(self, contract_subject: Subject) -> None:
        """No open aiohttp.ClientSession and no pending task after use, close_connector and unload."""
        await checks.leaves_no_sessions_or_tasks(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_no_secret_in_logs(self, contract_subject: Subject, caplog: pytest.LogCaptureFixture) -> None:
        """No credential, pasted secret field or secret setting in any log record, at DEBUG, on every path."""
        await checks.no_secret_in_logs(contract_subject, caplog)


__all__ = ["ConnectorContract"]
