"""Benchmarks shipped with sknas: tables of trained networks that turn a search into lookups.

A benchmark sits beside the layers (DESIGN.md section 3): it has a space of its
own, an evaluator that answers from its table, and a loop that runs any searcher
on it, so it imports the search, evaluation, space and nn parts; none of them
imports it.

- :mod:`sknas.benchmark.tabulated`: every dense network of a small space
  trained once on ``load_digits`` (the NAS-Bench-201 idea for tabular data),
  and LCBench-style tables of sampled genotypes of the default ``mlp`` space
  on real datasets (``TabularBenchmark(dataset=...)``);
- :mod:`sknas.benchmark.text`: a synthetic table whose free-text column decides
  the label (``benchmarks/bench_text.py`` and the text-column tests).
"""
