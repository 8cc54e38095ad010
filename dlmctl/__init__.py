"""dlmctl: controllable text generation with Diffusion-LM.

Generating from Python (:mod:`dlmctl.api`)::

    import dlmctl
    model = dlmctl.load()                       # the bundled default model, or a path
    for sample in model.generate({"pos": "DET NOUN AUX ADJ PUNCT"}, n=3, seed=0):
        print(sample.text)

The interface for plugin authors lives in :mod:`dlmctl.control` (``Control``, ``Guidance``),
:mod:`dlmctl.hookspecs` (``hookimpl``) and :mod:`dlmctl.errors`. The API's names are imported on
first use, so that ``import dlmctl`` stays light.
"""

from dlmctl.errors import DlmctlError

__version__ = "0.2.0"
__all__ = ["ControlInfo", "DlmctlError", "Model", "Sample", "controls", "load"]
_API = {"ControlInfo", "Model", "Sample", "controls", "load"}


def __getattr__(name: str):
    if name in _API:
        from dlmctl import api

        return getattr(api, name)
    raise AttributeError(f"module 'dlmctl' has no attribute '{name}'")
