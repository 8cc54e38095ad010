"""dlmctl-keywords: a third-party control plugin, written against dlmctl's public API only.

The ``dlmctl`` entry point of this distribution names this module; dlmctl's plugin host finds the
``register_controls`` hook implementation below and calls it with its ``register`` callback.
"""

from dlmctl.hookspecs import hookimpl

from dlmctl_keywords.control import KeywordsControl, KeywordsTarget

__all__ = ["KeywordsControl", "KeywordsTarget", "register_controls"]


@hookimpl
def register_controls(register):
    register(KeywordsControl())
