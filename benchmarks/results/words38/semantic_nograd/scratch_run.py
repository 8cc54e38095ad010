"""Scratch: semantic's classifier gradient only on the fields it does not hold (familyFriendly);
the held values steer by the word bias alone."""
import sys
import torch
sys.path.insert(0, "benchmarks")
from dlmctl.classifiers.network import IGNORE, log_softmax_at
from dlmctl_semantic import FIELDS, SemanticControl
from dlmctl_semantic.meaning import value_words

original = SemanticControl.guidance


def guidance(self, model, targets):
    g = original(self, model, targets)
    net, meta = self.classifier(model)
    labels = torch.full((len(targets), len(FIELDS)), IGNORE, dtype=torch.long)
    for row, target in enumerate(targets):
        for field, value in target or ():
            if value_words(field, value) is None:
                labels[row, FIELDS.index(field)] = meta["values"][field].index(value)
    labels = labels.to(model.device)
    g.log_prob = lambda x, t: log_softmax_at(net(x, t), labels)
    return g


SemanticControl.guidance = guidance
import controls
controls.main()
