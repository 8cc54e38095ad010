"""Same-target overlap and distinct-n."""

import pytest

from dlmctl.diversity import bigram_jaccard, distinct_n, group_overlap, ngrams, same_target_overlap


def test_bigram_jaccard_counts_shared_word_pairs():
    assert ngrams("The pub is cheap") == [("the", "pub"), ("pub", "is"), ("is", "cheap")]
    assert bigram_jaccard("the pub is cheap", "the pub is cheap") == 1.0
    assert bigram_jaccard("the pub is cheap", "The pub was cheap") == pytest.approx(1 / 5)
    assert bigram_jaccard("cheap", "pub") == 1.0          # no bigrams on either side: nothing tells them apart
    assert bigram_jaccard("a pub", "the pub") == 0.0


def test_same_target_overlap_is_a_mean_over_targets_of_pairwise_means():
    same, different = ["a b c", "a b c", "a b c"], ["a b", "c d"]
    assert group_overlap(same) == 1.0 and group_overlap(different) == 0.0
    assert group_overlap(["only one"]) is None
    assert same_target_overlap([same, different, ["alone"]]) == pytest.approx(0.5)
    assert same_target_overlap([["alone"]]) is None


def test_distinct_n_is_the_share_of_unique_ngrams():
    assert distinct_n(["a b a b"]) == pytest.approx(2 / 3)     # (a b), (b a), (a b)
    assert distinct_n(["a b", "a b"], n=1) == pytest.approx(2 / 4)
    assert distinct_n([]) == 0.0 and distinct_n(["word"]) == 0.0
