"""dlmctl: controllable text generation with Diffusion-LM.

The public API for plugin authors lives in :mod:`dlmctl.control` (``Control``, ``Guidance``),
:mod:`dlmctl.hookspecs` (``hookimpl``) and :mod:`dlmctl.errors`.
"""

__version__ = "0.1.0"
