"""Fixtures shared by dlmctl's own tests (plugin authors get theirs from ``dlmctl.testing``)."""

import pytest

from dlmctl import critique, hookspecs
from dlmctl.plugins import PluginHost


@pytest.fixture
def use_critics(monkeypatch):
    """``use_critics(*critics)``: choosing and evaluating ask just these critics (a host of their
    own, found through the same hook as installed ones)."""

    def install(*critics):
        host = PluginHost(entry_points=False)

        class Plugin:
            @hookspecs.hookimpl
            def register_critics(self, register):
                for critic in critics:
                    register(critic)

        host.register(Plugin(), "critics")
        monkeypatch.setattr(critique, "get_host", lambda: host)

    return install
