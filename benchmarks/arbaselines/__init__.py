"""Autoregressive baselines for the paper's comparison (``benchmarks/baselines.py``,
``benchmarks/paper_table.py``), all built on the model's own teacher LM (same corpus, tokenizer and
vocabulary):

- :mod:`.conditions`: a control's parsed target as condition tokens, and whether a corpus sentence
  meets a target (the oracles' rules on stored annotations);
- :mod:`.corpus`: the training corpus annotated once (tags, trees, MRs), with a target per control;
- :mod:`.conditioned`: the teacher reading condition tokens before the sentence, with a next-word
  head (FT) and a per-prefix "the finished sentence will meet the target" head (FUDGE);
- :mod:`.decoding`: top-k sampling one token at a time, with a per-step hook that reweights;
- :mod:`.states`: the teacher run on input states, for :mod:`.pplm` and :mod:`.delorean`;
- :mod:`.systems`: FUDGE, PPLM, FT-sample, FT-search and the plain AR LM, each reading the batch
  targets of ``dlmctl generate --targets`` and writing its output lines.
"""
