"""Classifier-guided controls (docs/method.md, docs/plugins.md).

A control that steers with a classifier on noisy latents subclasses :class:`ClassifierControl` and
supplies only what is its own: the labels of a training corpus (:meth:`~ClassifierControl.training_data`),
the head that predicts them (:meth:`~ClassifierControl.build_head`), the target parser, the
log-probability of a target, and the oracle. The rest is shared and lives here:

- :mod:`dlmctl.classifiers.network`: the noisy-latent encoder and ``log_softmax_at``;
- :mod:`dlmctl.classifiers.training`: noisy inputs, the training loop, accuracy by noise level;
- :mod:`dlmctl.classifiers.storage`: saving and loading ``<model_dir>/controls/<name>.*``.

Importing this package does not import torch, so that listing plugins stays fast.
"""

from dlmctl.classifiers.control import ClassifierControl, TrainingData

__all__ = ["ClassifierControl", "TrainingData"]
