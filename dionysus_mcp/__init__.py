"""dionysus-mcp: a cognitive layer for MCP clients."""

import os

# Recall's vector search is one matrix-vector product per query (2.5M multiply-adds at 10,000
# memories). OpenBLAS's thread pool made it many times slower on a busy two-core machine
# (waking and spinning threads costs more than the work; docs/benchmarks.md, "Figures behind the
# code"), so BLAS stays on one thread unless the user asked otherwise. Must run before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
