"""Plugin discovery through the ``dlmctl`` entry-point group.

Entry points are loaded on first use, never at import. A plugin that fails to import or to register
becomes a warning naming it; every other plugin keeps working. ``DLMCTL_PLUGINS=a,b`` loads only the
named entry points (for debugging); ``DLMCTL_PLUGINS=`` (empty) loads none.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import pluggy

from dlmctl import hookspecs
from dlmctl.errors import PluginError

ENTRY_POINT_GROUP = "dlmctl"


@dataclass
class PluginInfo:
    """One loaded plugin as listed by ``dlmctl plugins``."""

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    annotators: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    critics: list[str] = field(default_factory=list)


@dataclass
class _Registered:
    obj: Any
    plugin: str
    distribution: str


class PluginHost:
    """Owns the pluggy manager and the registries plugins fill."""

    def __init__(self, *, entry_points: bool = True):
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.warnings: list[str] = []
        self._use_entry_points = entry_points
        self._dist_of: dict[str, tuple[str, str]] = {}
        self._collected = False
        self._controls: dict[str, _Registered] = {}
        self._annotators: dict[str, _Registered] = {}
        self._models: dict[str, _Registered] = {}
        self._commands: dict[str, _Registered] = {}
        self._critics: dict[str, _Registered] = {}

    @classmethod
    def with_controls(cls, *controls: Any, name: str = "local") -> "PluginHost":
        """A host without entry points whose only plugin registers ``controls`` (benchmarks and
        experiments comparing variants of a control)."""

        class _Controls:
            @hookspecs.hookimpl
            def register_controls(self, register):
                for control in controls:
                    register(control)

        host = cls(entry_points=False)
        host.register(_Controls(), name)
        return host

    # -- loading -------------------------------------------------------------------------------
    def register(self, plugin: Any, name: str, distribution: str = "(local)", version: str = "") -> None:
        """Register a plugin object directly (tests, embedding applications)."""
        self.pm.register(plugin, name=name)
        self._dist_of[name] = (distribution, version)
        self._collected = False

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._dist_of.pop(name, None)
        self._collected = False

    def _load_entry_points(self) -> None:
        wanted = os.environ.get("DLMCTL_PLUGINS")
        only = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
        found = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            found.add(ep.name)
            if only is not None and ep.name not in only:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            if self.pm.get_plugin(ep.name) is not None:
                other = self._dist_of.get(ep.name, ("(local)", ""))[0]
                self.warnings.append(f"duplicate plugin name '{ep.name}': entry points in {other} and "
                                     f"{dist}; keeping the one from {other}")
                continue
            try:
                self.register(ep.load(), ep.name, dist, version)
            except Exception as exc:  # a broken plugin must not break the others
                self.warnings.append(f"plugin '{ep.name}' ({dist}) failed to load: {exc!r}")
        for name in sorted((only or set()) - found):
            self.warnings.append(f"DLMCTL_PLUGINS names '{name}', but no installed plugin has that name "
                                 f"(installed: {', '.join(sorted(found)) or 'none'})")
        self._warn_unknown_hooks()

    def _warn_unknown_hooks(self) -> None:
        """Hook implementations matching no hookspec (a misspelt hook would otherwise do nothing)."""
        known = ", ".join(sorted(n for n, c in vars(self.pm.hook).items() if c.has_spec()))
        for hook_name, caller in sorted(vars(self.pm.hook).items()):
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                dist = self._dist_of.get(impl.plugin_name, ("(local)", ""))[0]
                self.warnings.append(f"plugin '{impl.plugin_name}' ({dist}) implements unknown hook "
                                     f"'{hook_name}', which is never called (hooks: {known})")

    def _collect(self) -> None:
        if self._collected:
            return
        if self._use_entry_points:
            self._use_entry_points = False
            self._load_entry_points()
        self._controls, self._annotators, self._models, self._commands, self._critics = {}, {}, {}, {}, {}
        for hook_name, table, key in (
            ("register_controls", self._controls, lambda c: c.name),
            ("register_annotators", self._annotators, lambda a: a.name),
            ("register_critics", self._critics, lambda c: c.name),
            ("register_models", self._models, None),
            ("register_commands", self._commands, None),
        ):
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                plugin = impl.plugin_name
                dist = self._dist_of.get(plugin, ("(local)", ""))[0]
                found: list[tuple[str, Any]] = []
                if key is None:
                    register: Callable = lambda name, obj, _f=found: _f.append((name, obj))
                else:
                    register = lambda obj, _f=found, _k=key: _f.append((_k(obj), obj))
                try:
                    impl.function(register=register)
                except Exception as exc:
                    self.warnings.append(f"plugin '{plugin}' ({dist}) failed in {hook_name}: {exc!r}")
                    continue
                for name, obj in found:
                    if name in table:
                        other = table[name]
                        self.warnings.append(
                            f"duplicate {hook_name[9:-1]} '{name}': registered by '{other.plugin}' "
                            f"({other.distribution}) and '{plugin}' ({dist}); keeping the first"
                        )
                        continue
                    table[name] = _Registered(obj, plugin, dist)
        self._collected = True

    # -- queries -------------------------------------------------------------------------------
    def controls(self) -> dict[str, Any]:
        self._collect()
        return {name: r.obj for name, r in sorted(self._controls.items())}

    def control(self, name: str) -> Any:
        controls = self.controls()
        if name in controls:
            return controls[name]
        close = difflib.get_close_matches(name, list(controls), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        known = ", ".join(controls) or "none installed"
        raise PluginError(f"unknown control '{name}'{hint} (available: {known})")

    def control_origin(self, name: str) -> tuple[str, str]:
        """(plugin, distribution) that registered control ``name``."""
        self.control(name)
        registered = self._controls[name]
        return registered.plugin, registered.distribution

    def annotators(self) -> dict[str, Any]:
        self._collect()
        return {name: r.obj for name, r in sorted(self._annotators.items())}

    def annotator(self, name: str) -> Any:
        annotators = self.annotators()
        if name not in annotators:
            known = ", ".join(annotators) or "none installed"
            raise PluginError(f"unknown annotator backend '{name}' (available: {known})")
        return annotators[name]

    def models(self) -> dict[str, Any]:
        self._collect()
        return {name: r.obj for name, r in sorted(self._models.items())}

    def commands(self) -> dict[str, Callable]:
        """Subcommand functions plugins contribute, by command name."""
        self._collect()
        return {name: r.obj for name, r in sorted(self._commands.items())}

    def critics(self) -> dict[str, Any]:
        """Critics of finished sentences (``register_critics``), by name."""
        self._collect()
        return {name: r.obj for name, r in sorted(self._critics.items())}

    def plugin_infos(self) -> list[PluginInfo]:
        self._collect()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            dist, version = self._dist_of.get(name, ("(local)", ""))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            info = PluginInfo(name, dist, version, hooks)
            info.controls = sorted(c for c, r in self._controls.items() if r.plugin == name)
            info.annotators = sorted(a for a, r in self._annotators.items() if r.plugin == name)
            info.models = sorted(m for m, r in self._models.items() if r.plugin == name)
            info.commands = sorted(c for c, r in self._commands.items() if r.plugin == name)
            info.critics = sorted(c for c, r in self._critics.items() if r.plugin == name)
            infos.append(info)
        return sorted(infos, key=lambda i: i.name)


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, created (and entry points loaded) on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def reset_host() -> None:
    """Forget the process-wide host, so the next ``get_host()`` rediscovers entry points."""
    global _host
    _host = None
