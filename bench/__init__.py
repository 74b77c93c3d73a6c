"""The benchmark: a reproducible history generator (``bench.generate``) and the measurements (``bench.run``)."""
