"""Testing helpers for eventsim users: hypothesis strategies.

The strategies live in :mod:`eventsim.testing.strategies` and need the
``hypothesis`` package (``pip install eventsim[testing]``); importing this
package does not import hypothesis, the first access to ``strategies`` (or to one
of its functions through this package) does.

Requires the hypothesis package to be installed (for the strategies).
"""

from __future__ import annotations

import importlib

__all__ = ["strategies", "networks", "feedforward_networks", "input_times", "pulse_times"]

_HINT = ("eventsim.testing needs the hypothesis package: install it with "
         "`pip install eventsim[testing]` (or `pip install hypothesis`)")


def _strategies():
    try:
        import hypothesis  # noqa: F401
    except ImportError as exc:
        raise ImportError(_HINT) from exc
    return importlib.import_module(".strategies", __name__)


def __getattr__(name):
    if name == "strategies":
        return _strategies()
    if name in ("networks", "feedforward_networks", "input_times", "pulse_times"):
        return getattr(_strategies(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _hypothesis_setup_hook():
    """Entry point run by hypothesis when it is imported (``[project.entry-points.hypothesis]``).

    Registers :func:`~eventsim.testing.strategies.networks` as the strategy for
    ``st.from_type(eventsim.Network)``.  Requires the hypothesis package to be installed.
    """
    import hypothesis.strategies as st

    from ..network import Network

    # Defer building the strategy until it is first used, so that importing
    # hypothesis stays cheap.
    st.register_type_strategy(Network, st.deferred(lambda: _strategies().networks()))
