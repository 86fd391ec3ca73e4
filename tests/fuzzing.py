"""A fuzzer for the command line: adversarial numbers, unit strings, unicode and damaged files, in process.

Every command except the training ones (``sweep``, ``train``, ``sample``) and the app server is called
through click's `CliRunner` with options drawn from pools of hostile values; the options are read from the
commands themselves, so a new command or option is fuzzed without an edit here. An outcome is bad when:

* an exception escapes (anything but ``SystemExit``): a traceback for the user;
* a non-zero exit does not print exactly one ``error:`` line on stderr (``warning:`` lines aside).

``nonsense`` flags a successful call that prints NaN or infinity, or a JSON result whose FLOPs, time or size
is null. `tests/test_fuzz.py` runs a seeded sample
in the suite; ``bench/fuzz.py`` runs 40,000 calls and prints a table.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner

from scaling.errors import LINE_CHARS

EXCLUDED = ("sweep", "train", "sample", "app")  # training runs and a server: not for a fuzzer
NEVER_OPTIONS = ("help", "open_", "open")  # --open starts the user's browser
NUMBERS = (
    "0",
    "-1",
    "-0",
    "1",
    "1.5",
    "0.4",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "1e-308",
    "1e400",
    "1e30",
    "1e25",
    "1e-5",
    "2147483648",
    "99999999999999999999",
    "9" * 400,
    "9" * 5000,
    "5e-324",
    "1e-320",
    "1e-300",
    "0x10",
    "1_000",
    "1,5",
    "",
    " ",
    "1e",
    "+",
    ".",
    "3.",
    ".5",
    "-1e308",
    "4e-324",
    "1e20",
    "8",
    "64",
    "4096",
)
UNITS = (
    "7B",
    "1.4T",
    "350M",
    "70b",
    "1e12B",
    "-7B",
    "nanB",
    "infT",
    "30d",
    "720h",
    "1.5y",
    "0d",
    "-3d",
    "1e30d",
    "50ms",
    "40%",
    "140%",
    "-5%",
    "0%",
    "$2M",
    "$-1",
    "2.5/h",
    "$nan",
    "100PF-days",
    "1 PF-days",
    "1e400 PF-days",
    "12 parsecs",
    "80GB",
    "80GiB",
    "-1GB",
    "1e300TB",
    "2T tokens",
    "7 B",
    "7BB",
    "B7",
)
CLUSTERS = (
    "512xH100",
    "8xH100",
    "64x8xA100-40GB",
    "99999999999999999999xH100",
    "0xH100",
    "-8xH100",
    "8x",
    "xH100",
    "1e3xH100",
    "8xNOPE",
    "8xRTX-4090",
    "2xTPU-v5e",
    "8.5xH100",
    "H100",
    "1x1x1x1xH100",
)
NAMES = (
    "llama-2-7b",
    "llama-2-70b",
    "gpt3-175b",
    "chinchilla",
    "kaplan",
    "epoch",
    "llama3",
    "muennighoff",
    "nope",
    "LLAMA-2-7B",
    "gpt2",
    "mixtral-8x7b",
    "t5-11b",
    "a100",
    "bf16",
    "fp8",
    "int4",
    "adamw",
    "3",
    "full",
    "selective",
)
UNICODE = (
    "７B",
    "ⅷ",
    "🙂",
    "\u200b7B",
    "7\u00a0B",
    "Ünïcödé",
    "\u202e7B",
    "١٢",
    "𝟳B",
    "7\u2009B",
    "e\u0301",
    "\ufeff1e23",
    "ß" * 300,
    "\\",
    "'",
    '"',
    "--",
    "-",
    "--help",
    "%s%n",
    "${HOME}",
    "a\nb",
    "7B\n",
    "x" * 20000,
    "\t",
)


PLAUSIBLE = {
    "tokens": ("1.4T", "300B", "2T", "20B"),
    "params": ("7B", "70B", "350M", "1.3B"),
    "gpus": ("8xH100", "512xH100", "64xA100-80GB", "8xRTX-4090"),
    "days": ("30", "30d", "7d"),
    "mfu": ("0.4", "40%", "0.5"),
    "price": ("2.5", "$2/h"),
    "usd": ("$2M", "100000"),
    "gpu_hours": ("1.3M", "100000"),
    "budget": ("1e23", "5.76e23", "'512xH100 30d 40%'"),
    "budget_flops": ("1e20", "1e21"),
    "law": ("chinchilla", "epoch", "kaplan", "llama3"),
    "law_name": ("chinchilla", "epoch"),
    "unique_tokens": ("300B", "50B"),
    "inference_tokens": ("2T", "10T"),
    "max_params": ("8B", "1B"),
    "seq_len": ("2048", "4096"),
    "context": ("4096", "32768"),
    "vocab": ("32000",),
    "model": ("llama-2-7b", "llama-2-70b", "gpt3-175b", "mixtral-8x7b"),
    "tp": ("1", "2", "8"),
    "pp": ("1", "4"),
    "zero": ("0", "3"),
    "micro_batch": ("1", "4"),
    "global_batch": ("256", "1024"),
    "batch": ("1", "32"),
    "lora_rank": ("16",),
    "quant": ("int4", "int8"),
    "precision": ("bf16", "fp8"),
    "bootstrap": ("0", "20"),
    "target_loss": ("2.0",),
    "global_batch_tokens": ("4M",),
    "prompt_tokens": ("512",),
    "output_tokens": ("128",),
    "latency": ("50ms",),
    "layers": ("32",),
    "d_model": ("4096",),
    "heads": ("32",),
    "kv_heads": ("8",),
    "d_ff": ("11008",),
}


def damaged_files(folder: Path) -> list[str]:
    """Write the damaged (and a few valid) input files into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = "N,D,loss\n" + "".join(
        f"{n:.4g},{d:.4g},{1.69 + 406.4 / n**0.34 + 410.7 / d**0.28:.5f}\n"
        for n in (1e7, 3e7, 1e8, 3e8, 1e9)
        for d in (2e8, 1e9, 5e9, 2e10)
    )
    files = {
        "empty.csv": b"",
        "header_only.csv": b"N,D,loss\n",
        "garbage_row.csv": runs.encode() + b"my note,,,\n",
        "runs.csv": runs.encode(),
        "names.csv": b"name,N,D,loss\n"
        + b"".join(b"a,%d,%d,3.0\n" % (10**7 * i, 10**9) for i in range(1, 8)),
        "binary.csv": bytes(range(256)) * 4,
        "latin1.csv": "N,D,loss,note\n1e8,1e9,3.0,caf\xe9\n".encode("latin-1"),
        "utf16.json": json.dumps(
            {"name": "x", "E": 1.7, "A": 400, "B": 410, "alpha": 0.34, "beta": 0.28}
        ).encode("utf-16"),
        "nan_law.json": b'{"name": "x", "E": NaN, "A": Infinity, "B": -1, "alpha": 1e-300, "beta": 0.28}',
        "bad_law.json": b'{"name": "x", "bootstrap": "abc", "fit": "x", "flops_range": [1]}',
        "compact.json": b'[{"N":1e8,"D":1e9,"loss":3.1},{"N":3e8,"D":1e9,"loss":2.9}]',
        "curves.jsonl": b'{"N": 1e8, "D": 1e9, "loss": 3.0, "curve": "abc"}\n{"curve": [[1]]}\n',
        "config_nan.json": b'{"model_type": "llama", "hidden_size": NaN, "num_hidden_layers": Infinity}',
        "config_huge.json": b'{"model_type": "llama", "hidden_size": 1e308, "num_hidden_layers": '
        + b"9" * 400
        + b', "num_attention_heads": 32, "vocab_size": 32000, "intermediate_size": 11008}',
        "config_types.json": b'{"model_type": ["llama"], "architectures": 3, "hidden_size": "big"}',
        "config_layers.json": b'{"model_type": "llama", "hidden_size": 4096, '
        b'"num_hidden_layers": 1000000000000, "num_attention_heads": 32, "vocab_size": 32000, '
        b'"intermediate_size": 11008}',
        "accel_extra.csv": b"name,memory_gb,bf16_tflops\nX1,80,989,extra\n",
        "accel_zero.csv": b"name,memory_gb,bf16_tflops,fp16_tflops,price_usd_per_hour\nZ0,0,0,0,nan\n",
        "not_json.json": b"{this is not json",
        "existing.html": b"<p>mine</p>",
        "law_ok.json": json.dumps(
            {
                "name": "mine",
                "kind": "parametric",
                "E": 1.7,
                "A": 400.0,
                "B": 410.0,
                "alpha": 0.34,
                "beta": 0.28,
                "fit": {"flops_range": [1e18, 1e21]},
            }
        ).encode(),
        "law_bytes.json": json.dumps(
            {
                "name": "bytes",
                "kind": "parametric",
                "E": 0.6,
                "A": 30.0,
                "B": 40.0,
                "alpha": 0.3,
                "beta": 0.3,
                "loss_unit": "nats/byte",
                "vocab_size": 256,
                "tokenizer": "bytes",
            }
        ).encode(),
        "config.json": (Path(__file__).parent / "fixtures" / "hf" / "llama-2-7b.json").read_bytes(),
        "runs.parquet": b"PAR1garbage",
        "big_field.csv": b"N,D,loss,note\n1e8,1e9,3.0," + b"z" * 2_000_000 + b"\n",
        "config_evil.json": b'{"model_type": "evil", "hidden_size": 4096, "num_hidden_layers": 32, '
        b'"num_attention_heads": 32, "vocab_size": 32000, "intermediate_size": 11008}',
        "nested.json": b"[" * 3000,
        "nested.jsonl": b'{"N": ' + b"[" * 3000 + b"\n",
        "ragged.csv": runs.encode() + b"1e8,1e9,3.0,an extra field\n",
        "colours.csv": b"color,Model Size,Training FLOP,loss\n#faebdd,44000000,1e18,3.5\n",
    }
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(str(path))
    (folder / "a_folder").mkdir(exist_ok=True)
    if hasattr(os, "mkfifo") and not (folder / "fifo.csv").exists():  # a reader must not wait for a writer
        os.mkfifo(folder / "fifo.csv")
        paths.append(str(folder / "fifo.csv"))
    sweep = folder / "a_sweep"  # a folder another command owns: --force may not write over its files
    sweep.mkdir(exist_ok=True)
    (sweep / "sweep.json").write_text("{}")
    (sweep / "runs.csv").write_bytes(files["runs.csv"])
    return paths + [
        str(sweep),
        str(sweep / "sweep.json"),
        str(sweep / "runs.csv"),
        str(folder / "nul\x00byte.csv"),
        "/dev/zero",
        str(folder / "a_folder"),
        str(folder / "missing.csv"),
        "/dev/null/x.html",
        str(folder / ("n" * 300 + ".html")),
        str(folder / "new" / "out.html"),
        str(folder / "out.json"),
    ]


def commands(root: click.Group) -> list[tuple[list[str], click.Command]]:
    """Every fuzzable command as (argv prefix, command), subcommands of groups included."""
    out: list[tuple[list[str], click.Command]] = []
    ctx = click.Context(root)  # list_commands, not .commands: the CLI registers its commands when asked
    for name in sorted(root.list_commands(ctx)):
        command = root.get_command(ctx, name)
        if name in EXCLUDED or command is None:
            continue
        if isinstance(command, click.Group):
            out.extend(([name, *prefix], sub) for prefix, sub in commands(command))
        else:
            out.append(([name], command))
    return out


def _value(rng: random.Random, param: click.Parameter, files: list[str]) -> str:
    """A value for ``param``: half the time a plausible one (so calls reach deep code), else a hostile one."""
    pools = [NUMBERS, UNITS, CLUSTERS, NAMES, UNICODE, files]
    name = (param.name or "").lower()
    if name in PLAUSIBLE and rng.random() < 0.5:
        return rng.choice(PLAUSIBLE[name]).strip("'")
    if name in ("runs", "run_dir") and rng.random() < 0.5:
        return rng.choice([f for f in files if f.endswith(("runs.csv", "names.csv"))])
    if isinstance(param.type, click.Choice) and rng.random() < 0.7:
        return rng.choice(list(param.type.choices))
    if isinstance(param.type, click.Path) or any(
        k in name for k in ("file", "path", "output", "runs", "html", "law")
    ):
        pools = [files, files, NAMES]
    elif "gpus" in name or "cluster" in name:
        pools = [CLUSTERS, CLUSTERS, UNITS]
    elif name in ("model", "filter_text", "precision", "optimizer", "quant", "dtype", "kv_dtype", "zero"):
        pools = [NAMES, NAMES, files]
    elif isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
        pools = [NUMBERS, NUMBERS, UNITS]
    if rng.random() < 0.25:
        pools = [NUMBERS, UNITS, CLUSTERS, NAMES, UNICODE, files]
    return str(rng.choice(rng.choice(pools)))


def draw_call(rng: random.Random, root: click.Group, files: list[str]) -> list[str]:
    """One argv: a command, maybe its positional argument, and up to four options with hostile values."""
    prefix, command = rng.choice(commands(root))
    args = list(prefix)
    options = [p for p in command.params if isinstance(p, click.Option) and p.name not in NEVER_OPTIONS]
    for param in command.params:
        if isinstance(param, click.Argument) and rng.random() < 0.8:
            args.append(_value(rng, param, files))
    for param in rng.sample(options, k=min(len(options), rng.randint(0, 4))):
        flag = max(param.opts, key=len)
        if param.is_flag:
            args.append(flag)
        else:
            args += [flag, _value(rng, param, files)]
    return args


@dataclass(frozen=True)
class Outcome:
    """One call: its argv, exit code, seconds, and what went wrong (None when nothing did)."""

    args: tuple[str, ...]
    exit_code: int
    seconds: float
    unhandled: str | None  # "ExceptionType at file:line"
    bad_error: str | None  # a non-zero exit whose stderr is not one "error:" line, or an over-long message
    nonsense: str | None  # a successful output with NaN or infinity in it


_NONSENSE = re.compile(r"(?<![\w.])(nan|[-+]?inf)(?![\w])", re.IGNORECASE)


RESULT_KEYS = ("flops", "pf_days", "seconds", "days", "gpu_hours", "params", "tokens")  # never null in JSON
GIVEN_KEYS = ("budget", "inputs", "assumptions")  # what was asked: a deadline not given is null there


def _null_result(text: str) -> str | None:
    """A JSON result whose FLOPs, time or size came out null (an overflow printed as nothing)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in RESULT_KEYS and value is None:
                    return f'"{key}": null'
                if key not in GIVEN_KEYS:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/scaling/" in f.filename.replace("\\", "/")] or frames
    last = ours[-1] if ours else None
    place = f"{Path(last.filename).name}:{last.lineno}" if last else "?"
    return f"{type(exc).__name__} at {place}"


def run_call(root: click.Group, args: list[str], env: dict[str, str] | None = None) -> Outcome:
    """Invoke ``root`` with ``args`` in process and judge the outcome."""
    runner = CliRunner()
    start = time.perf_counter()
    result = runner.invoke(root, args, env=env, catch_exceptions=True)
    seconds = time.perf_counter() - start
    unhandled = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        unhandled = _where(result.exception)
    bad_error = nonsense = None
    if result.exit_code != 0 and unhandled is None:
        lines = [
            line for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning:")
        ]
        if len(lines) != 1 or not (lines[0].startswith("error:") or lines[0] == "aborted"):
            bad_error = " | ".join(lines[:3])[:300] or "(nothing on stderr)"
    messages = [line for line in result.stderr.splitlines() if line.startswith(("error:", "warning:"))]
    too_long = [line for line in messages if len(line) > LINE_CHARS]
    if too_long and unhandled is None:
        bad_error = f"a {len(too_long[0]):,}-character line: {too_long[0][:200]}"
    if result.exit_code == 0:
        match = _NONSENSE.search(result.stdout)
        if match:
            start_at = max(0, match.start() - 60)
            nonsense = result.stdout[start_at : match.end() + 20].replace("\n", " ")
        elif "--json" in args:
            nonsense = _null_result(result.stdout)
    return Outcome(tuple(args), int(result.exit_code), seconds, unhandled, bad_error, nonsense)
