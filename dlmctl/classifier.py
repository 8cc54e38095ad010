"""Deprecated since 0.2: the classifier helpers live in :mod:`dlmctl.classifiers` (``ClassifierControl``),
:mod:`dlmctl.classifiers.network`, :mod:`dlmctl.classifiers.training` and
:mod:`dlmctl.classifiers.storage`. This module re-exports them for plugins written against 0.1 and
goes away in 0.3."""

import warnings

from dlmctl.classifiers import ClassifierControl, TrainingData
from dlmctl.classifiers.network import (IGNORE, EncoderConfig, LatentClassifier, LatentEncoder,
                                        encoder_config, log_softmax_at, param_count)
from dlmctl.classifiers.storage import (CONTROLS_DIR, classifier_paths, embedding_digest,
                                        load_classifier, same_embeddings, save_classifier)
from dlmctl.classifiers.training import (CLEAN, DEFAULT_LR, SAMPLING_STEPS, TrainOptions,
                                         accuracy_by_level, continued, corpus_sentences, level_name,
                                         loss_and_correct, model_times, noise_levels, noisy_latents,
                                         report_levels, sample_times, train_classifier)

__all__ = ["CLEAN", "CONTROLS_DIR", "ClassifierControl", "DEFAULT_LR", "EncoderConfig", "IGNORE",
           "LatentClassifier", "LatentEncoder", "SAMPLING_STEPS", "TrainOptions", "TrainingData",
           "accuracy_by_level", "classifier_paths", "continued", "corpus_sentences", "embedding_digest",
           "encoder_config", "level_name", "load_classifier", "log_softmax_at", "loss_and_correct",
           "model_times", "noise_levels", "noisy_latents", "param_count", "report_levels",
           "same_embeddings", "sample_times", "save_classifier", "train_classifier"]

warnings.warn("dlmctl.classifier is deprecated: import from dlmctl.classifiers (and its network, training and "
              "storage modules)", DeprecationWarning, stacklevel=2)
