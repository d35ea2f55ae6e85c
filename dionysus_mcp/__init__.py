"""dionysus-mcp: a cognitive layer for MCP clients."""

import os

# Recall's vector search is one matrix-vector product per query (2.5M multiply-adds at 10,000
# memories). OpenBLAS's thread pool made that 40x slower on a busy two-core machine (28 ms
# instead of 0.7 ms: waking and spinning threads costs more than the work), so BLAS stays on
# one thread unless the user asked otherwise. Must run before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
