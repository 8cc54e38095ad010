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
def register_commands(register):
    """Contribute ``dlmctl`` subcommands: call ``register(name, function)`` with a Typer command
    function (its parameters, annotated with ``typer.Option``/``typer.Argument``, are the command's
    options); it becomes ``dlmctl NAME``. Import heavy modules inside the function: every ``dlmctl``
    invocation registers the commands."""


@hookspec
def register_models(register):
    """Contribute ready-made model directories: call ``register(name, path)``; ``dlmctl generate
    --model NAME`` then loads ``path``. A model registered as ``"default"`` is used when ``--model``
    is not given."""


@hookspec
def register_critics(register):
    """Contribute critics of finished sentences: call ``register(critic)`` with an object that has a
    ``name`` and ``flaws(model, texts) -> list[list[str]]``: for each text, what is wrong with it in a
    few words ("area: riverside, city centre"), an empty list where nothing is (and for every text
    of a model the critic cannot judge). ``dlmctl generate`` chooses candidates without flaws first,
    among those the teacher finds fluent and among the rest (:func:`dlmctl.rerank.selection_keys`)."""
