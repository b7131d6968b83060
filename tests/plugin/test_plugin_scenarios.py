"""The pytest plugin, exercised with pytester: scenario items, options, fixtures."""

from __future__ import annotations

import importlib
import textwrap

import pytest

# Imported before pytester snapshots sys.modules: extension modules (numpy) cannot be
# imported twice in one process, and the inner runs use all of these.
for _module in ("dmsim.cloud", "dmsim.net", "dmsim.scenario", "tests.unit.scenario.scenario_kit"):
    importlib.import_module(_module)

pytest_plugins = ["pytester"]

CONFTEST = """
from tests.unit.scenario.scenario_kit import ToyWorld

WORLD = ToyWorld()


def pytest_dmsim_world(config):
    return WORLD
"""

MACHINE = """
machine:
  components:
    - name: probe
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 1}]
  services:
    - {name: dm, type: data_manager, attributes: {sync_interval_mins: 0.1}}
"""


def scenario(name: str, *, min_delivered: int, seed: int = 3) -> str:
    return (
        textwrap.dedent(
            f"""\
        name: {name}
        seed: {seed}
        duration: 2m
        faults: [{{at: 30s, kind: crash, restart_after: 5s}}]
        expectations: {{drain_within: 30s, min_delivered: {min_delivered}}}
        """
        )
        + MACHINE
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "good.scenario.yaml").write_text(scenario("good", min_delivered=50))
    (scenarios / "bad.scenario.yaml").write_text(scenario("bad", min_delivered=10_000))
    (pytester.path / "elsewhere.scenario.yaml").write_text(scenario("elsewhere", min_delivered=1))
    return pytester


def test_scenario_files_are_collected_and_judged(project: pytest.Pytester) -> None:
    result = project.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenarios/bad.scenario.yaml::bad FAILED*",
            "*scenarios/good.scenario.yaml::good PASSED*",
            "*dmsim run: bad  seed=3  verdict=FAIL*",
            "*FAIL  min_delivered*(expected >= 10000)*",
            "*reproduce: dmsim run *bad.scenario.yaml --seed 3",
            "*reproduce under pytest: pytest *bad.scenario.yaml --dmsim-seed 3",
        ]
    )
    assert "elsewhere" not in result.stdout.str()  # outside the scenario directory
    assert "Traceback" not in result.stdout.str()


def test_seed_option_overrides_every_scenario(project: pytest.Pytester) -> None:
    result = project.runpytest("--dmsim-seed", "42", "-k", "bad")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*seed=42  verdict=FAIL*", "*--dmsim-seed 42"])


def test_files_named_on_the_command_line_and_other_directories(project: pytest.Pytester) -> None:
    project.runpytest("elsewhere.scenario.yaml").assert_outcomes(passed=1)
    other = project.mkdir("library")
    (other / "x.scenario.yaml").write_text(scenario("x", min_delivered=1))
    result = project.runpytest("--dmsim-scenarios", "library", "library", "scenarios")
    result.assert_outcomes(passed=1)  # scenarios/ is no longer the scenario directory


def test_invalid_scenarios_fail_with_their_problems(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    (pytester.mkdir("scenarios") / "broken.scenario.yaml").write_text(
        "name: broken\nduration: soon\nmachine: {}\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*duration (line 2): expected a duration like '90s'*"])
    assert "Traceback" not in result.stdout.str()


def test_determinism_option(project: pytest.Pytester) -> None:
    result = project.runpytest("--dmsim-check-determinism", "-k", "good", "-rA")
    result.assert_outcomes(passed=1, deselected=1)
    assert project.runpytest("--dmsim-check-determinism", "-k", "good").ret == 0


def test_marker_and_runner_fixture(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_runner="""
        from pathlib import Path

        def test_runner(dmsim_scenario_runner, dmsim_seed):
            report = dmsim_scenario_runner(Path("scenarios/good.scenario.yaml"))
            assert report.passed
            assert report.seed == 3
            assert dmsim_seed == 0
            pinned = dmsim_scenario_runner(Path("scenarios/good.scenario.yaml"), seed=9)
            assert pinned.seed == 9
        """
    )
    project.runpytest("test_runner.py").assert_outcomes(passed=1)
    result = project.runpytest("-m", "dmsim_scenario", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1, deselected=1)


def test_seed_fixture_follows_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_seed(dmsim_seed):
            assert dmsim_seed == 17
        """
    )
    pytester.runpytest("--dmsim-seed", "17").assert_outcomes(passed=1)


def test_fake_cloud_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from dmsim.cloud import CloudCore
        from dmsim.cloud.samples import tabular_request

        def test_cloud(fake_cloud):
            assert isinstance(fake_cloud, CloudCore)
            request = tabular_request([{"temp": 21.5}, {"temp": 21.7}])
            first = fake_cloud.ingest_data_capture(request, key="abc/0")
            again = fake_cloud.ingest_data_capture(request, key="abc/0")
            assert again.duplicate and again.file_id == first.file_id
            assert fake_cloud.statistics().duplicates == 1
            assert fake_cloud.statistics().readings == 2

        def test_each_test_gets_a_fresh_cloud(fake_cloud):
            assert fake_cloud.statistics().uploads == 0
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_machine_never_advanced_leaves_no_warning_for_a_later_test(
    pytester: pytest.Pytester,
) -> None:
    # Its tasks never ran: without the fixture closing the simulation, the garbage collector
    # warns "coroutine ... was never awaited" during whichever test happens to run next.
    pytester.makepyfile(
        f"""
        import gc
        import warnings

        MACHINE = {MACHINE!r}

        def test_started_and_dropped(dmsim_machine):
            dmsim_machine("name: dropped\\nduration: 1m" + MACHINE)

        def test_next(dmsim_machine):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                gc.collect()
            assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)  # in file order


def test_fault_proxy_fixture_starts_and_stops_proxies(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import socketserver
        import threading

        import pytest

        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                while data := self.request.recv(4096):
                    self.request.sendall(data)

        @pytest.fixture
        def echo():
            server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
            yield server.server_address
            server.shutdown()
            server.server_close()
            thread.join()

        ADDRESSES = []

        def test_through_the_proxy(fault_proxy, echo):
            handle = fault_proxy(upstream=echo)
            ADDRESSES.append(handle.address)
            assert handle.address[0] == "127.0.0.1" and handle.address[1] != echo[1]
            with socket.create_connection(handle.address, timeout=10) as conn:
                conn.sendall(b"hello")
                assert conn.recv(5) == b"hello"
            handle.call(handle.proxy.set_enabled, False)
            assert not handle.proxy.enabled

        def test_it_was_stopped():
            with pytest.raises(OSError):
                socket.create_connection(ADDRESSES[0], timeout=2)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
