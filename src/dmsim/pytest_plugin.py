"""dmsim's pytest plugin: scenario files as tests, seeds, and fixtures for the fake cloud and
the fault proxy. Options live under ``--dmsim-``, state in ``config.stash``.

- Every ``*.scenario.yaml`` under the scenario directory (``--dmsim-scenarios``, default
  ``<rootdir>/scenarios``), or named on the command line, is collected as one test that runs
  the scenario and fails with its summary and reproduction line.
- ``--dmsim-seed N`` overrides every scenario's seed (and is the ``dmsim_seed`` fixture);
  ``--dmsim-check-determinism`` runs each scenario twice and compares the traces.
- Fixtures: ``dmsim_seed``, ``dmsim_scenario_runner``, ``fake_cloud`` (an in-process
  :class:`~dmsim.cloud.CloudCore`), ``fault_proxy`` (a factory of started
  :class:`~dmsim.net.FaultProxy` instances, stopped after the test).
- Hook ``pytest_dmsim_world(config)``: return another world runner for scenario items (tests
  of dmsim itself use a toy world).

See ``docs/pytest-plugin.md``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from dmsim.cloud import CloudCore
    from dmsim.net import FaultProxy
    from dmsim.scenario import Report, Scenario, WorldRunner
    from dmsim.scenario._world import World

__all__ = ["FaultProxyHandle", "ScenarioFailed", "ScenarioItem", "ScenarioRunner"]

T = TypeVar("T")

_SEED = pytest.StashKey[int | None]()
_SCENARIO_DIR = pytest.StashKey[Path]()
_DETERMINISM = pytest.StashKey[bool]()
_SUFFIX = ".scenario.yaml"
_CLOUD_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class _HookSpecs:
    @pytest.hookspec(firstresult=True)
    def pytest_dmsim_world(self, config: pytest.Config) -> WorldRunner | None:
        """Return the world runner scenario items and ``dmsim_scenario_runner`` use, or None
        for dmsim's simulated world."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_HookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dmsim")
    group.addoption(
        "--dmsim-seed",
        type=int,
        default=None,
        help="root seed for dmsim simulations and scenario tests (default: each scenario's own; "
        "0 for the dmsim_seed fixture)",
    )
    group.addoption(
        "--dmsim-scenarios",
        default=None,
        metavar="DIR",
        help="collect *.scenario.yaml files under DIR as tests (default <rootdir>/scenarios)",
    )
    group.addoption(
        "--dmsim-check-determinism",
        action="store_true",
        help="run each scenario test twice and fail on the first diverging trace event",
    )


def pytest_configure(config: pytest.Config) -> None:
    seed = config.getoption("--dmsim-seed")
    config.stash[_SEED] = None if seed is None else int(seed)
    directory = config.getoption("--dmsim-scenarios")
    base = Path(directory) if directory else config.rootpath / "scenarios"
    config.stash[_SCENARIO_DIR] = (
        base if base.is_absolute() else config.invocation_params.dir / base
    )
    config.stash[_DETERMINISM] = bool(config.getoption("--dmsim-check-determinism"))
    config.addinivalue_line("markers", "dmsim_scenario: a dmsim scenario file run as a test")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.name.endswith(_SUFFIX):
        return None
    inside = file_path.is_relative_to(parent.config.stash[_SCENARIO_DIR])
    if inside or parent.session.isinitpath(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _world(config: pytest.Config) -> WorldRunner:
    from dmsim.scenario import default_world

    world: WorldRunner | None = config.hook.pytest_dmsim_world(config=config)
    return world if world is not None else default_world()


class ScenarioFailed(Exception):
    """A scenario test's verdict was "fail"; carries the report."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.summary())
        self.report = report


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        name = self.path.name.removesuffix(_SUFFIX)
        item = ScenarioItem.from_parent(self, name=name)
        item.add_marker("dmsim_scenario")
        yield item


class ScenarioItem(pytest.Item):
    """Runs one scenario file; fails with the summary and how to reproduce it."""

    def runtest(self) -> None:
        from dmsim.scenario import load_scenario, run_scenario

        scenario = load_scenario(self.path)
        seed = self.config.stash[_SEED]
        report = run_scenario(
            scenario,
            seed=seed,
            check_determinism=self.config.stash[_DETERMINISM],
            progress=False,
            world=_world(self.config),
        )
        self.user_properties += [
            ("dmsim_seed", report.seed),
            ("dmsim_verdict", report.verdict_text),
        ]
        if not report.passed:
            raise ScenarioFailed(report)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        from dmsim.errors import DmsimError

        if isinstance(excinfo.value, ScenarioFailed):
            report = excinfo.value.report
            rerun = f"pytest {self.path} --dmsim-seed {report.seed}"
            return f"{report.summary()}\nreproduce under pytest: {rerun}"
        if isinstance(excinfo.value, DmsimError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.name}"


class ScenarioRunner:
    """``dmsim_scenario_runner(path_or_scenario, seed=None)``: run and return the report.

    Seed precedence: the ``seed`` argument, then ``--dmsim-seed``, then the scenario's own.
    """

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def __call__(
        self,
        path_or_scenario: str | os.PathLike[str] | Scenario,
        *,
        seed: int | None = None,
        check_determinism: bool = False,
    ) -> Report:
        from dmsim.scenario import run_scenario

        chosen = seed if seed is not None else self._config.stash[_SEED]
        return run_scenario(
            path_or_scenario,
            seed=chosen,
            check_determinism=check_determinism,
            progress=False,
            world=_world(self._config),
        )


@pytest.fixture
def dmsim_seed(request: pytest.FixtureRequest) -> int:
    """The root seed chosen with ``--dmsim-seed`` (0 when not given)."""
    seed = request.config.stash[_SEED]
    return 0 if seed is None else seed


@pytest.fixture
def dmsim_scenario_runner(request: pytest.FixtureRequest) -> ScenarioRunner:
    """Runs scenarios with the session's world and seed; returns :class:`Report` objects."""
    return ScenarioRunner(request.config)


@pytest.fixture
def dmsim_machine(request: pytest.FixtureRequest) -> Iterator[Callable[..., World]]:
    """A factory of started simulated machines, driven step by step from the test.

    ``dmsim_machine(scenario, seed=None)`` takes a scenario path, YAML text or ``Scenario``;
    advance it with ``.advance(until=seconds)``, act on it (``.crash()``, ``.restart()``,
    ``.kernel.step_wall_clock(s)``, ``.devices``, ``.fs``, ``.cloud``, ``.dm``) and end it with
    ``.finish()``, whose ``WorldResult`` ``dmsim.scenario.judge`` turns into a verdict. After
    the test every machine's simulation is closed, finished or not."""
    from dmsim.scenario import Scenario, load_scenario, loads_scenario
    from dmsim.scenario._world import World

    chosen = request.config.stash[_SEED]

    def make(source: str | Path | Scenario, *, seed: int | None = None) -> World:
        if isinstance(source, Scenario):
            scenario = source
        elif isinstance(source, Path) or ("\n" not in source and not source.startswith("{")):
            scenario = load_scenario(source)  # a path: text is YAML over lines, or one {...}
        else:
            scenario = loads_scenario(str(source), source="dmsim_machine")
        pick = seed if seed is not None else chosen if chosen is not None else scenario.seed
        world = World(scenario, seed=pick)
        made.append(world)
        world.start()
        return world

    made: list[World] = []
    yield make
    for world in made:
        world.kernel.close()


class _SteppingClock:
    """A deterministic clock for the fake cloud: starts at the scenario epoch, 1 ms per read."""

    def __init__(self, start: float) -> None:
        self._now = start

    def __call__(self) -> float:
        self._now += 0.001
        return self._now


@pytest.fixture
def fake_cloud() -> Iterator[CloudCore]:
    """An in-memory :class:`~dmsim.cloud.CloudCore`, closed after the test."""
    from dmsim.cloud import CloudCore

    core = CloudCore(clock=_SteppingClock(_CLOUD_EPOCH))
    try:
        yield core
    finally:
        core.close()


class FaultProxyHandle:
    """A started :class:`~dmsim.net.FaultProxy` on its own event loop thread.

    ``address`` is where clients connect; ``call(coroutine_function, *args)`` runs a control
    coroutine (e.g. ``proxy.add_toxic``) on the proxy's loop and returns its result.
    """

    def __init__(self, proxy: FaultProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.proxy = proxy
        self._loop = loop

    @property
    def address(self) -> tuple[str, int]:
        return self.proxy.listen_address

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)
        return future.result(timeout=30)


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dmsim-proxy-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def fault_proxy(dmsim_seed: int) -> Iterator[Callable[..., FaultProxyHandle]]:
    """A factory: ``fault_proxy(upstream=("127.0.0.1", port))`` starts a proxy on a free
    loopback port (seeded with ``dmsim_seed``); every proxy is stopped after the test."""
    from dmsim.net import FaultProxy

    thread = _LoopThread()
    handles: list[FaultProxyHandle] = []

    async def start(upstream: str | tuple[str, int], name: str) -> FaultProxy:
        proxy = FaultProxy(("127.0.0.1", 0), upstream, seed=dmsim_seed, name=name)
        await proxy.start()
        return proxy

    def factory(*, upstream: str | tuple[str, int], name: str = "dmsim") -> FaultProxyHandle:
        handle = FaultProxyHandle(thread.run(start(upstream, name)), thread.loop)
        handles.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in handles:
            thread.run(handle.proxy.stop())
        thread.close()
