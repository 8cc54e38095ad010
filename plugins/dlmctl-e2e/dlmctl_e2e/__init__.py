"""The bundled default model: registered as ``default`` and ``e2e-small``, so ``dlmctl generate``
works right after install. See ``model/config.json`` for how it was trained and how to reproduce it."""

from pathlib import Path

from dlmctl.hookspecs import hookimpl

MODEL_DIR = Path(__file__).parent / "model"


@hookimpl
def register_models(register):
    register("default", MODEL_DIR)
    register("e2e-small", MODEL_DIR)
