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
  beside another connector, and registers again after an unload;
- ``check_connection`` passes with good credentials; bad credentials raise
  ``ConnectorAuthFailed`` from ``check_connection`` and ``import_orders``;
- a 5xx answer and a timeout raise ``ConnectorNotReady``, a 429 ``RateLimited``;
- imported orders validate as core ``Order``s and their external ids are unique; an incremental
  import from the returned cursor repeats no unchanged order and finds the changed one; the cursor
  never moves backwards; a resumed import neither repeats nor loses orders; a cursor in the future
  yields nothing;
- a label gets one confirmed outcome per parcel, again on a repeat; a label for another
  connector's connection makes no call and returns ``None``;
- ``authorize`` round trip, when the scenarios implement ``consent``;
- registering, using and unloading leaves no open ``aiohttp.ClientSession`` and no pending task;
- no secret (credentials, settings secrets, issued tokens) appears in the logs, even at DEBUG.

Every test is marked ``contract``: ``pytest -m contract`` runs the kit alone, ``-m "not contract"``
everything else. The tests are ``async`` and marked for pytest-asyncio, so they also run under
``asyncio_mode = "strict"``.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from core.errors import PluginError
from core.manifest import Manifest
from core.plugins import installed_entry_points
from core.settings import HookSettings
from core.testing import checks
from core.testing.bench import Subject
from core.testing.scenario import Scenarios

_HOOKS_WITH_FAULTS = ("check_connection", "import_orders")

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

    # credentials and faults ---------------------------------------------------------------------

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

    # labels and authorisation -------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_label_confirms_each_parcel_idempotently(self, contract_subject: Subject) -> None:
        """One confirmed outcome per parcel, and again when the same label is pushed twice."""
        await checks.label_confirms_each_parcel(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_foreign_label_makes_no_call(self, contract_subject: Subject) -> None:
        """A label of another connector's connection: no shop call, None returned."""
        await checks.foreign_label_makes_no_call(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_authorize_round_trip(self, contract_subject: Subject) -> None:
        """Consent URL with state, callback to working credentials (needs Scenarios.consent)."""
        await checks.authorize_round_trip(contract_subject)

    # hygiene ------------------------------------------------------------------------------------

    @contract
    @pytest.mark.asyncio
    async def test_setup_and_unload_leave_no_sessions_or_tasks(self, contract_subject: Subject) -> None:
        """No open aiohttp.ClientSession and no pending task after use and unload."""
        await checks.leaves_no_sessions_or_tasks(contract_subject)

    @contract
    @pytest.mark.asyncio
    async def test_no_secret_in_logs(self, contract_subject: Subject, caplog: pytest.LogCaptureFixture) -> None:
        """No credential or secret setting in any log record, at DEBUG, on every path."""
        await checks.no_secret_in_logs(contract_subject, caplog)


__all__ = ["ConnectorContract"]
