"""The benchmarks' support package: the target functions, one module per library
(`leastpriv_echo`, `oslo_echo`, `leastpriv_chown`), and `common`, what both scripts share.

One module per library, so that a daemon started by exec or forked from a worker loads only its own
library: importing oslo.privsep into a leastpriv daemon, or the reverse, would inflate the other's
memory and start time. Nothing is imported here, so that loading a target costs only the target.
Not in `benchmarks/*.py` on purpose: `scripts/dev bench` runs every such file as a benchmark.
"""
