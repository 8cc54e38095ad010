"""Hook specifications: what a dlmctl plugin can contribute.

A plugin is any module or object with functions marked ``@dlmctl.hookspecs.hookimpl`` and exposed
through the ``dlmctl`` entry-point group. Every hook receives a ``register`` callback.
"""

import pluggy

hookspec = pluggy.HookspecMarker("dlmctl")
hookimpl = pluggy.HookimplMarker("dlmctl")


@hookspec
def register_controls(register):
    """Contribute controls: call ``register(control)`` with a :class:`dlmctl.control.Control` instance
    for each control the plugin provides."""


@hookspec
def register_annotators(register):
    """Contribute annotator backends (POS taggers, constituency parsers): call
    ``register(annotator)`` with an object that has a ``name`` attribute."""


@hookspec
def register_models(register):
    """Contribute ready-made model directories: call ``register(name, path)``; ``dlmctl generate
    --model NAME`` then loads ``path``. A model registered as ``"default"`` is used when ``--model``
    is not given."""
