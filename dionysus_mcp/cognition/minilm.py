"""all-MiniLM-L6-v2 sentence embeddings computed with numpy, no torch: the default embedder.

A contextual model reads a sentence as a whole, so paraphrases that share no word ("slumber" for
"sleep badly") land close together; WordLlama's static token vectors cannot do that as well
(docs/benchmarks.md, recall by meaning). The weights ship inside this package, in float16
(`models/all-minilm-l6-v2/`, 45 MB, Apache-2.0, made by scripts/convert_minilm.py); `safetensors`
reads them and `tokenizers` (Hugging Face's Rust tokenizer) reads the model's tokenizer.json.

The forward pass is BERT's, as sentence-transformers runs this model: token + position +
segment embeddings, 6 post-LayerNorm encoder layers (12 heads, exact erf GELU), mean pooling over
the real tokens, L2 normalization; inputs truncated at 256 tokens (its `max_seq_length`). The
layer weights are widened to float32 at load (numpy has no fast float16 product); the token
table (half the model) stays float16 and only the rows a batch uses are widened. Texts are
embedded in batches of similar length so little work goes into padding, and batches are split
over two threads (numpy releases the GIL in its products): one text at a time (`remember`, a
query) uses one core, a reindex uses two. The vectors of the last texts embedded are kept by text
(`RowCache`), so a text seen again costs a dictionary look-up.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dionysus_mcp.cognition.embedding import Embedder, EmbedderUnavailable, normalize_rows

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12
WEIGHTS_FILE = "model.fp16.safetensors"
THREADS = 2
# The vectors of the texts embedded last, by text (rows of 384 float32: ~6 MB at most). A
# heartbeat recalls with the same queries every cycle, and the runtimes a process opens see the
# same basin descriptions and notes again.
CACHED_TEXTS = 4096
# One loaded model per folder and process: the weights never change, and every runtime a process
# opens (tests, the CLI) would otherwise load its own copy of the weights.
_LOADED: dict[Path, "MiniLMEncoder"] = {}
_LOADING = threading.Lock()


def model_folder() -> Path:
    """The model files shipped inside this package."""
    return Path(__file__).resolve().parent / "models" / "all-minilm-l6-v2"


# Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 noise here): numpy has no erf and
# BERT's GELU is the exact, erf-based one.
_P = np.float32(0.3275911)
_A = [np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]
_SQRT_HALF = np.float32(0.7071067811865476)


def _gelu(x: np.ndarray) -> np.ndarray:
    """0.5 · x · (1 + erf(x / √2)), in place over x (the feed-forward's largest array)."""
    z = np.abs(x)
    z *= _SQRT_HALF
    t = z * _P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _A[0]
    for coefficient in _A[1:]:
        poly += coefficient
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 − erf(|x| / √2)
    np.subtract(1.0, poly, out=poly)
    np.copysign(poly, x, out=poly)  # erf(x / √2)
    poly += 1.0
    poly *= 0.5
    x *= poly
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    x -= x.mean(axis=-1, keepdims=True)
    var = np.square(x).mean(axis=-1, keepdims=True)
    var += LAYER_NORM_EPS
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


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


class RowCache:
    """A bounded map from text to its (normalized) vector, least recently used out first;
    shared by the threads that embed with one loaded model."""

    def __init__(self, size: int = CACHED_TEXTS):
        self.size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: list[str]) -> dict[int, np.ndarray]:
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for i, text in enumerate(texts):
                row = self._rows.get(text)
                if row is not None:
                    self._rows.move_to_end(text)
                    found[i] = row
        return found

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def put(self, texts: list[str], rows: np.ndarray) -> None:
        with self._lock:
            for text, row in zip(texts, rows):
                self._rows[text] = row.copy()  # its own memory: a row never holds a whole batch alive
                self._rows.move_to_end(text)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


class MiniLMEncoder:
    """The BERT encoder of all-MiniLM-L6-v2 with its weights in numpy arrays."""

    def __init__(self, folder: Path):
        # The Rust tokenizer's own thread pool would only warn after the agents' sandbox forks.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from safetensors.numpy import load_file  # noqa: PLC0415 - loaded lazily, off the first request
        from tokenizers import Tokenizer  # noqa: PLC0415

        w = load_file(str(folder / WEIGHTS_FILE))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every input to 128 and cuts there; sentence-transformers cuts at
        # 256 and pads to the longest in the batch, which `encode` does.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

        def f32(name: str) -> np.ndarray:
            return w[name].astype(np.float32)

        self.word = w["embeddings.word_embeddings.weight"]  # float16; rows widened when used
        self.position = f32("embeddings.position_embeddings.weight")
        self.segment0 = f32("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.dim = self.word.shape[1]
        self.layers = [self._layer(f32, f"encoder.layer.{i}.") for i in range(LAYERS)]
        self.cache = RowCache()

    @staticmethod
    def _layer(f32, p: str) -> _Layer:  # noqa: ANN001 - the loader's accessor
        def t(name: str) -> np.ndarray:  # stored (out, in): transposed once for x @ W
            return np.ascontiguousarray(f32(p + name + ".weight").T)

        att = p + "attention."
        return _Layer(
            qkv=np.concatenate([t(f"attention.self.{n}") for n in ("query", "key", "value")], axis=1),
            qkv_bias=np.concatenate([f32(f"{att}self.{n}.bias") for n in ("query", "key", "value")]),
            attn_out=t("attention.output.dense"),
            attn_out_bias=f32(att + "output.dense.bias"),
            attn_norm=(f32(att + "output.LayerNorm.weight"), f32(att + "output.LayerNorm.bias")),
            ff_in=t("intermediate.dense"),
            ff_in_bias=f32(p + "intermediate.dense.bias"),
            ff_out=t("output.dense"),
            ff_out_bias=f32(p + "output.dense.bias"),
            ff_norm=(f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
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
        x = self.word[tokens].astype(np.float32)
        x += self.position[:length]
        x += self.segment0
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
        # The products see (n * length, hidden): one matrix product each, where a 3-D operand
        # made numpy run one small product per text (half the speed).
        x = x.reshape(n * length, hidden)
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        qkv = qkv.reshape(n, length, 3, HEADS, head).transpose(2, 0, 3, 1, 4)  # (3, n, heads, length, head)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= np.float32(1.0 / np.sqrt(head))
        scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, hidden)
        attended = context @ layer.attn_out
        attended += layer.attn_out_bias
        attended += x
        x = _layer_norm(attended, *layer.attn_norm)
        inner = x @ layer.ff_in
        inner += layer.ff_in_bias
        out = _gelu(inner) @ layer.ff_out
        out += layer.ff_out_bias
        out += x
        return _layer_norm(out, *layer.ff_norm).reshape(n, length, hidden)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions), loaded lazily once."""

    name = "all-minilm-l6-v2-384"
    setting = "minilm"
    dim = 384
    # Its cosines sit higher than WordLlama's: on 10 notes and 5 basins (docs/COGNITION.md) a
    # note and its basin scored 0.13-0.42 (median 0.32), a note and another basin 0.05 median,
    # 0.18 at most.
    cosine_range = (0.15, 0.45)

    def __init__(self, batch_size: int = 32, folder: Path | None = None, threads: int = THREADS):
        self.batch_size = batch_size
        self.threads = max(1, threads)
        self._folder = folder
        self._encoder: MiniLMEncoder | None = None

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> MiniLMEncoder:
        if self._encoder is not None:
            return self._encoder
        folder = self._folder or model_folder()
        with _LOADING:
            if self._encoder is None:
                try:
                    if folder not in _LOADED:
                        _LOADED[folder] = MiniLMEncoder(folder)
                    self._encoder = _LOADED[folder]
                except Exception as exc:  # missing packages or files
                    raise EmbedderUnavailable(
                        f"cannot load the all-MiniLM-L6-v2 embedding model ({type(exc).__name__}: {exc}); "
                        "reinstall dionysus-mcp (its model files are in the package), "
                        "or set DIONYSUS_EMBEDDER=none for lexical recall only"
                    ) from None
            return self._encoder

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoder = self._load()
        known = encoder.cache.get(texts)
        for i, row in known.items():
            out[i] = row
        todo = [i for i in range(len(texts)) if i not in known]
        if todo:
            fresh = self._compute(encoder, [texts[i] for i in todo])
            out[todo] = fresh
            encoder.cache.put([texts[i] for i in todo], fresh)
        return out

    def _compute(self, encoder: MiniLMEncoder, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = encoder.token_ids(list(texts))
        # A text with no tokens besides [CLS] and [SEP] has nothing to embed: a zero row.
        todo = sorted((i for i, seq in enumerate(ids) if len(seq) > 2 and texts[i].strip()), key=lambda i: len(ids[i]))
        batches = [todo[s : s + self.batch_size] for s in range(0, len(todo), self.batch_size)]

        def run(share: list[list[int]]) -> None:
            for batch in share:
                out[batch] = encoder.encode([ids[i] for i in batch])

        workers = min(self.threads, len(batches))
        if workers <= 1:
            run(batches)
        else:  # every worker gets short and long batches alike
            helpers = [threading.Thread(target=run, args=(batches[k::workers],)) for k in range(1, workers)]
            for h in helpers:
                h.start()
            run(batches[0::workers])
            for h in helpers:
                h.join()
        return normalize_rows(out)
