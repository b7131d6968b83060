"""dmsim's pytest plugin: options under ``--dmsim-``, state in ``config.stash``."""

from __future__ import annotations

import pytest

_SEED = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dmsim")
    group.addoption(
        "--dmsim-seed",
        type=int,
        default=0,
        help="root seed for dmsim simulations started by tests (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SEED] = int(config.getoption("--dmsim-seed"))


@pytest.fixture
def dmsim_seed(request: pytest.FixtureRequest) -> int:
    """The root seed chosen with ``--dmsim-seed``."""
    return request.config.stash[_SEED]
