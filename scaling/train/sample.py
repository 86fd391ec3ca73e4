"""Text from a trained run: greedy, temperature, top-k and top-p (nucleus) decoding.

What each setting does, applied in this order to the next-token distribution:

* ``greedy``: always the most likely byte. Deterministic; small models fall into loops quickly.
* ``temperature`` T: logits / T. T < 1 sharpens towards greedy, T > 1 flattens towards uniform noise.
* ``top_k`` k: only the k most likely bytes stay candidates (cuts the long tail of unlikely bytes).
* ``top_p`` p: only the smallest set of bytes whose probabilities add up to p stays (Holtzman et al. 2020);
  adapts to how sure the model is, unlike a fixed k.
* ``seed``: sampling is reproducible for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scaling.checks import fraction, positive, positive_int
from scaling.errors import ScalingError


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int | None = 40
    top_p: float | None = 0.9
    greedy: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse settings that have no meaning (NaN or non-positive temperature, negative k, p outside
        (0, 1])."""
        positive_int(self.max_new_tokens, "--max-new-tokens", allow_zero=True)
        if not self.greedy:
            positive(self.temperature, "--temperature")
        if self.top_k is not None:
            positive_int(self.top_k, "--top-k", allow_zero=True)
        if self.top_p is not None:
            fraction(self.top_p, "--top-p")

    def describe(self) -> str:
        if self.greedy:
            return "greedy"
        parts = [f"T={self.temperature:g}"]
        parts += [f"top-k={self.top_k}"] if self.top_k else []
        parts += [f"top-p={self.top_p:g}"] if self.top_p is not None and self.top_p < 1 else []
        return ", ".join(parts)


# What `scaling sample --compare` shows: one setting changed at a time.
COMPARISON = [
    Decoding(greedy=True),
    Decoding(temperature=0.5, top_k=None, top_p=None),
    Decoding(temperature=1.0, top_k=None, top_p=None),
    Decoding(temperature=1.0, top_k=10, top_p=None),
    Decoding(temperature=1.0, top_k=None, top_p=0.9),
    Decoding(temperature=0.8, top_k=40, top_p=0.9),
]


def find_checkpoint(run_dir: str | Path, run_id: str | None = None) -> Path:
    """A checkpoint: the path itself, ``run_id`` in a sweep folder, or the folder's lowest-loss finished
    run."""
    path = Path(run_dir)
    if path.is_file():
        return path
    folder = path / "checkpoints"
    if not folder.is_dir():
        raise ScalingError(
            f"{path} has no checkpoints/ folder: give a sweep or run output folder, or a .pt file"
        )
    if run_id:
        candidate = folder / f"{run_id}.pt"
        if not candidate.exists():
            raise ScalingError(f"no checkpoint for run {run_id!r} in {folder}")
        return candidate
    from scaling.train.folder import read_rows

    rows = [
        r
        for r in read_rows(path / "runs.csv")
        if r["status"] == "ok" and (folder / f"{r['run_id']}.pt").exists()
    ]
    if rows:  # the best model in the folder: lowest validation loss
        return folder / f"{min(rows, key=lambda r: float(r['loss']))['run_id']}.pt"
    found = sorted(folder.glob("*.pt"))
    if not found:
        raise ScalingError(f"{folder} holds no checkpoints")
    return found[-1]


def load_model(checkpoint: str | Path):
    """(model, record row) from a checkpoint written by `train_run`."""
    from scaling.model import ModelSpec
    from scaling.train.model import GPT

    payload = _read_checkpoint(checkpoint)
    if payload["row"].get("tokenizer") != "bytes":
        raise ScalingError(
            f"{checkpoint} was trained on token ids ({payload['row'].get('tokenizer')}), not bytes; "
            "sampling text needs that corpus's own tokenizer"
        )
    try:
        model = GPT(ModelSpec(**payload["spec"]))
        model.load_state_dict(payload["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ScalingError(
            f"{checkpoint} is damaged: its weights do not fit its model ({str(exc)[:200]})"
        ) from None
    model.eval()
    return model, payload["row"]


def _read_checkpoint(checkpoint: str | Path) -> dict:
    """The checkpoint's payload, loaded with ``weights_only=True`` (no code from the file ever runs); a
    damaged or foreign file is one ScalingError, never PyTorch's advice to load it unsafely."""
    import warnings

    import torch

    try:
        with (
            warnings.catch_warnings()
        ):  # the unpickler's own warnings about a foreign file: the error says it
            warnings.simplefilter("ignore")
            payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise ScalingError(f"cannot read checkpoint {checkpoint}: {exc.strerror or exc}") from None
    except Exception:  # unpickling errors of every kind: truncated, not a zip, disallowed globals
        raise ScalingError(
            f"{checkpoint} is not a checkpoint written by scaling train/sweep (damaged or foreign "
            "file); it was not loaded"
        ) from None
    keys = ("spec", "model", "row")
    if (
        not isinstance(payload, dict)
        or any(k not in payload for k in keys)
        or not isinstance(payload["row"], dict)
    ):
        raise ScalingError(
            f"{checkpoint} is not a checkpoint written by scaling train/sweep (no spec, model, row)"
        )
    return payload


def generate(model, prompt: str, decoding: Decoding = Decoding()) -> str:
    """Continue ``prompt`` byte by byte; returns only the new text."""
    import torch

    from scaling.train.data import ByteTokenizer

    tok = ByteTokenizer()
    ids = torch.from_numpy(tok.encode(prompt).astype("int64"))[None, :]
    if ids.shape[1] == 0:
        ids = torch.tensor([[ord("\n")]])
    generator = torch.Generator().manual_seed(decoding.seed)
    n_ctx = model.spec.n_ctx
    new = []
    with torch.no_grad():
        for _ in range(decoding.max_new_tokens):
            logits, _ = model(ids[:, -n_ctx:])
            logits = logits[0, -1]
            if decoding.greedy:
                nxt = int(torch.argmax(logits))
            else:
                nxt = int(torch.multinomial(filter_probs(logits, decoding), 1, generator=generator))
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tok.decode(new)


def filter_probs(logits, decoding: Decoding):
    """Next-token probabilities after temperature, top-k and top-p."""
    import torch

    logits = logits / decoding.temperature
    if decoding.top_k:
        kth = torch.topk(logits, min(decoding.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if decoding.top_p is not None and decoding.top_p < 1:
        sorted_p, order = torch.sort(probs, descending=True)
        # keep a token if the mass before it is still below p (so the most likely token always stays)
        drop = (torch.cumsum(sorted_p, 0) - sorted_p) >= decoding.top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_p)
        probs = probs / probs.sum()
    return probs
