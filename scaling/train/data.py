"""Data: a byte-level tokenizer, corpora, a fixed held-out split, and batches.

Corpora (the ``--data`` argument; `load_corpus`):

* ``stdlib`` (default): the Python standard library's own ``.py`` sources, read at run time from
  ``sysconfig.get_paths()["stdlib"]`` (tests, site-packages and caches excluded; files sorted by path). About
  13 MB of real text on every machine with Python, no download, nothing third-party copied into the
  repository. It differs between Python versions and builds, so it is identified by the version and the sha256
  of its bytes; losses are only comparable between runs whose ``corpus_sha256`` match.
* a folder (every non-hidden, non-binary file under it, sorted), a text file, or a comma-separated list of
  them;
* a pre-tokenized ``.bin`` memmap in the nanoGPT layout: ``uint16`` token ids by default, ``uint8`` when the
  name ends in ``.u8.bin``; the vocabulary is the largest id + 1 (or 256 for uint8);
* ``hf:BUILDER:FILES[:COLUMN]``, local files through Hugging Face ``datasets`` (``pip install datasets``),
  e.g. ``hf:json:data/*.jsonl:text`` or ``hf:text:books/*.txt``. Set ``HF_DATASETS_OFFLINE=1`` so it never
  tries the network; the text column is byte-tokenized like any text file.

Tokenizer: bytes (vocabulary 256). Tiny models cannot afford a 50k-entry BPE embedding, byte loss needs no
dependency and is tokenizer-invariant: loss in nats/token is nats/byte (divide by ln 2 for bits/byte).

Held-out split: the token stream is cut into 64 Ki-token chunks and every 20th chunk (chunk index 19, 39, ...)
is validation. Interleaved rather than the tail, because a corpus made of concatenated sources has a different
distribution at its end (measured: a contiguous split held out its own distribution). Batches never straddle
two chunks.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from scaling.errors import ScalingError

CHUNK_TOKENS = 65536  # 64 Ki tokens per split chunk
VAL_EVERY = 20  # 1 chunk in 20 is held out
_STDLIB_SKIP = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


class ByteTokenizer:
    """UTF-8 bytes as tokens: vocabulary 256, lossless, no training, no files."""

    name = "bytes"
    vocab_size = 256

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()

    def decode(self, ids) -> str:
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")


@dataclass
class Corpus:
    """A token stream with its identity and the fixed train/validation split."""

    name: str  # human identity, e.g. "python-stdlib-3.11.7" or a path
    sha256: str  # of the token bytes: the identity that decides whether two runs' losses are comparable
    tokens: np.ndarray  # 1-D uint8/uint16 (possibly a read-only memmap)
    tokenizer: str = "bytes"
    vocab_size: int = 256
    train_spans: list[tuple[int, int]] = field(default_factory=list)
    val_spans: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.train_spans:
            self.train_spans, self.val_spans = split_spans(len(self.tokens))

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def train_tokens(self) -> int:
        return sum(b - a for a, b in self.train_spans)

    @property
    def val_tokens(self) -> int:
        return sum(b - a for a, b in self.val_spans)

    def identity(self) -> dict:
        return {
            "corpus": self.name,
            "corpus_sha256": self.sha256,
            "tokenizer": self.tokenizer,
            "vocab_size": self.vocab_size,
            "corpus_tokens": self.n_tokens,
        }

    def epochs(self, tokens: float) -> float:
        return tokens / max(1, self.train_tokens)


def split_spans(n: int, chunk: int = CHUNK_TOKENS, every: int = VAL_EVERY):
    """Train and validation spans: 1 chunk in ``every`` held out. Small corpora still get a validation
    chunk."""
    if n < 2 * 1024:
        raise ScalingError(f"corpus of {n} tokens is too small to split into training and validation data")
    if n < every * chunk:  # fewer than 20 chunks: shrink the chunks so the split is still 1 in 20
        chunk = max(512, n // (2 * every))
    train, val = [], []
    for k, start in enumerate(range(0, n, chunk)):
        span = (start, min(n, start + chunk))
        (val if k % every == every - 1 else train).append(span)
    return train, val


class Batches:
    """Random training windows (a pure function of the seed) and a fixed set of validation windows."""

    def __init__(self, corpus: Corpus, seq_len: int, *, seed: int):
        self.corpus, self.seq_len = corpus, seq_len
        self.rng = np.random.default_rng(seed)
        self._train = _Windows(corpus.train_spans, seq_len)
        self._val = _Windows(corpus.val_spans, seq_len)
        if self._train.total <= 0 or self._val.total <= 0:
            raise ScalingError(f"corpus {corpus.name!r} is too small for sequences of {seq_len} tokens")

    def train_starts(self, batch: int) -> np.ndarray:
        return self._train.starts(self.rng.integers(0, self._train.total, size=batch))

    def val_starts(self, n: int) -> np.ndarray:
        """``n`` windows spread evenly over the held-out data: the same for every run on this corpus."""
        return self._val.starts(np.linspace(0, self._val.total - 1, n).astype(np.int64))

    def gather(self, starts: np.ndarray):
        """(x, y) int64 arrays of shape (len(starts), seq_len): y is x shifted by one token."""
        idx = starts[:, None] + np.arange(self.seq_len + 1)[None, :]
        block = np.asarray(self.corpus.tokens[idx.ravel()], dtype=np.int64).reshape(idx.shape)
        return block[:, :-1], block[:, 1:]


class _Windows:
    """Start positions of windows of seq_len+1 tokens that fit inside one span, indexed 0..total-1."""

    def __init__(self, spans, seq_len: int):
        self.spans = np.array([a for a, b in spans if b - a > seq_len + 1], dtype=np.int64)
        counts = np.array([b - a - seq_len - 1 for a, b in spans if b - a > seq_len + 1], dtype=np.int64)
        self.cum = np.cumsum(counts)
        self.total = int(self.cum[-1]) if len(counts) else 0

    def starts(self, u: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.cum, u, side="right")
        before = np.where(k > 0, self.cum[np.maximum(k - 1, 0)], 0)
        return self.spans[k] + (u - before)


# ------------------------------------------------------------------------------------------- corpora
def stdlib_files() -> list[Path]:
    """The standard library's .py sources, sorted by relative path (tests, site-packages, caches excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py") if not (_STDLIB_SKIP & set(p.relative_to(root).parts[:-1]))]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


@lru_cache(maxsize=4)
def load_corpus(data: str | None = None) -> Corpus:
    """A corpus from a ``--data`` argument (see the module docstring). Cached per process."""
    text = (data or "stdlib").strip()
    if text == "stdlib":
        version = ".".join(map(str, sys.version_info[:3]))
        return _from_bytes(f"python-stdlib-{version}", _read_files(stdlib_files()))
    if text.startswith("hf:"):
        return _from_hf(text)
    parts = [Path(p.strip()).expanduser() for p in text.split(",") if p.strip()]
    for p in parts:
        if not p.exists():
            raise ScalingError(
                f"--data {str(p)!r} does not exist: give 'stdlib', a folder, text files, a .bin or hf:..."
            )
    if len(parts) == 1 and parts[0].suffix == ".bin":
        return _from_bin(parts[0])
    files: list[Path] = []
    for p in parts:
        files.extend(_text_files(p) if p.is_dir() else [p])
    if not files:
        raise ScalingError(f"--data {text!r} holds no readable text files")
    return _from_bytes(text, _read_files(files))


def _text_files(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if (
            p.is_file()
            and not any(part.startswith(".") for part in rel)
            and b"\0" not in p.read_bytes()[:8192]
        ):
            out.append(p)
    return out


def _read_files(files: list[Path]) -> bytes:
    # A newline between files so no token window joins two files' text mid-line.
    return b"\n".join(p.read_bytes() for p in files)


def _from_bytes(name: str, raw: bytes) -> Corpus:
    tokens = np.frombuffer(raw, dtype=np.uint8)
    return Corpus(name=name, sha256=hashlib.sha256(raw).hexdigest(), tokens=tokens)


def _from_bin(path: Path) -> Corpus:
    dtype = np.uint8 if path.name.endswith(".u8.bin") else np.uint16
    tokens = np.memmap(path, dtype=dtype, mode="r")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    vocab = (
        256
        if dtype == np.uint8
        else int(max(int(tokens[i : i + (1 << 24)].max()) for i in range(0, len(tokens), 1 << 24))) + 1
    )
    tokenizer = "bytes" if dtype == np.uint8 else f"ids-uint16-{path.name}"
    return Corpus(
        name=str(path), sha256=digest.hexdigest(), tokens=tokens, tokenizer=tokenizer, vocab_size=vocab
    )


def _from_hf(spec: str) -> Corpus:
    parts = spec.split(":")
    if len(parts) not in (3, 4) or not parts[1] or not parts[2]:
        raise ScalingError(
            f"--data {spec!r}: expected hf:BUILDER:FILES[:COLUMN], e.g. hf:json:data/*.jsonl:text"
        )
    builder, files, column = parts[1], parts[2], parts[3] if len(parts) == 4 else "text"
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # local files only: never reach for the Hub
    try:
        import datasets
    except ImportError:
        raise ScalingError("--data hf:... needs Hugging Face datasets: pip install datasets") from None
    ds = datasets.load_dataset(builder, data_files=files, split="train")
    if column not in ds.column_names:
        raise ScalingError(f"--data {spec!r}: no column {column!r}; columns are {', '.join(ds.column_names)}")
    raw = "\n".join(ds[column]).encode("utf-8")
    return _from_bytes(spec, raw)
