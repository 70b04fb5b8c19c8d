"""A pytest plugin that runs a test suite (POT's own) with :func:`otto_ot.pot.patch` applied and
reports how many kernel calls reached otto. Load it explicitly:

    pytest -p otto_ot.pytest_pot test_ot.py test_bregman.py [--otto-report FILE.json]

``--otto-pot-off`` loads the plugin without patching (the baseline run, counted the same way).
"""

import json

from . import pot


def pytest_addoption(parser):
    group = parser.getgroup("otto_ot")
    group.addoption(
        "--otto-report", default=None, help="write the routed-call counts and outcomes as JSON"
    )
    group.addoption("--otto-pot-off", action="store_true", help="do not patch POT (baseline run)")


def pytest_configure(config):
    import pytest

    pytest.skip_arg = _skip_when
    pytest.skip_backend = _skip_backend
    if not config.getoption("--otto-pot-off"):
        pot.patch()


def pytest_unconfigure(config):
    pot.unpatch()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    patched = not config.getoption("--otto-pot-off")
    lines = [f"  {name}: otto {c['otto']}, POT {c['pot']}" for name, c in pot.calls.items()]
    terminalreporter.write_sep(
        "=", "otto_ot.pot: kernel calls " + ("(patched)" if patched else "(not patched)")
    )
    for line in lines:
        terminalreporter.write_line(line)
    path = config.getoption("--otto-report")
    if path:
        stats = terminalreporter.stats
        outcomes = {
            key: sorted(
                r.nodeid
                for r in stats.get(key, [])
                if getattr(r, "when", "call") == "call" or key == "skipped"
            )
            for key in ("passed", "failed", "skipped", "error")
        }
        with open(path, "w") as f:
            json.dump({"patched": patched, "calls": pot.calls, "outcomes": outcomes}, f, indent=1)


def _skip_when(names, values, reason=None, getter=lambda x: x):
    """A decorator that skips a test whose keyword arguments ``names`` (one or several) all equal
    ``values`` after ``getter`` (POT's test files expect it as ``pytest.skip_arg``)."""
    import functools

    import pytest

    names = list(names) if isinstance(names, (tuple, list)) else [names]
    if len(names) == 1 or not isinstance(values, (tuple, list)):
        values = [values] * len(names) if len(names) > 1 else [values]
    getters = list(getter) if isinstance(getter, (tuple, list)) else [getter] * len(names)
    reason = reason or f"skipped for {dict(zip(names, values))}"

    def decorate(test):
        @functools.wraps(test)
        def wrapped(*args, **kwargs):
            if all(n in kwargs and g(kwargs[n]) == v for n, v, g in zip(names, values, getters)):
                pytest.skip(reason)
            return test(*args, **kwargs)

        return wrapped

    return decorate


def _skip_backend(name, reason=None):
    """``pytest.skip_backend("numpy")``: skip the test for the backend fixture ``nx`` of that name."""
    return _skip_when("nx", name, reason, getter=str)


try:
    import numpy as np
    import pytest
    from ot.backend import get_backend_list

    @pytest.fixture(params=get_backend_list(), ids=lambda backend: backend.__name__)
    def nx(request):
        """POT's test files take the backend as fixture ``nx`` (defined in POT's repository conftest,
        which its sdist does not ship): every backend POT finds installed (NumPy at least)."""
        np.random.seed(0)
        return request.param

except ImportError:  # POT not installed: the plugin only counts
    pass
