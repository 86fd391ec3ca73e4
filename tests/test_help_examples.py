"""Every example command line of `scaling --help`, of each command's --help and of the README runs as written.

An example is a line of a ``\\b`` block of a click docstring that starts with ``scaling`` (after a label
such as ``Estimators:``); ``scaling models, scaling gpus`` is two examples, and the ``&&`` parts of a line run
in order. Each example runs in an empty folder (with $HOME inside it), after the earlier examples of the same
help that make a file it names (``--out``, ``-o``, ``--output``). A file that no example of its help makes is
`GIVEN` here. The commands run in process through `CliRunner`; ``scaling app``, a server, runs as a process
until its page answers.

Examples that train need torch (marked ``torch``, skipped without it); those that take many minutes are
`SLOW` (marked ``slow`` and ``long``: deselected unless asked for with ``pytest -m long``); ``--device cuda``
is skipped without a GPU, and an image export without kaleido and a Chromium (marked ``browser``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from scaling.cli import main

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_OPTIONS = ("--out", "-o", "--output")
TRAINING = ("sweep", "train", "sample")
SERVERS = ("app",)
# Examples that take over a minute on 2 cores: the sweep's own ETA on a busy 2-core box (half of each core)
SLOW = {
    "scaling sweep --preset small --out runs/": "ETA 8.6 min",
    "scaling sweep --preset small --repeats 2 --out runs2/": "ETA 15 min: the small sweep under two seeds",
    "scaling sweep --budgets 1e12,3e12,1e13 --sizes 5 --data ~/books --out runs/books": "ETA 28 min",
    "scaling sweep --preset medium --device cuda --out runs/gpu": "a GPU: skipped without one",
    "scaling sweep --design next.csv --out runs/": "ETA 7.2 min for the runs designed for a smoke sweep",
}


def _synthetic_runs(folder: Path) -> None:
    from scaling.fit import synthetic_runs

    (folder / "runs").mkdir()
    synthetic_runs("chinchilla", seed=2).to_csv(folder / "runs" / "runs.csv", index=False)


def _books(folder: Path) -> None:
    """A folder of text files: a few of the standard library's sources."""
    books = folder / "home" / "books"
    books.mkdir(parents=True)
    for source in sorted(Path(os.__file__).parent.glob("*.py"))[:60]:
        shutil.copy(source, books / f"{source.stem}.txt")


def _config(folder: Path) -> None:
    """A Hugging Face config.json (Llama 2 7B's published values) where the README's example names one."""
    import json

    config = dict(
        model_type="llama",
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    (folder / "path" / "to").mkdir(parents=True)
    (folder / "path" / "to" / "config.json").write_text(json.dumps(config))


# (help, file an example names) -> what makes it: a command line, or a function of the folder
def _narayanan(folder: Path) -> None:
    """Narayanan et al. 2021 Table 1 as a table of training runs (the calibration tests' fixture)."""
    shutil.copy(ROOT / "tests" / "fixtures" / "calibration" / "narayanan_table1.csv", folder)


def _nim(folder: Path) -> None:
    """NVIDIA NIM's published Llama-3.3-70B sweep in vLLM's result layout (the serving fixture)."""
    shutil.copy(ROOT / "tests" / "fixtures" / "calibration" / "nim_llama33_70b_2xh100_fp8.jsonl", folder)


def _ladder(folder: Path) -> None:
    """A synthetic model ladder and its evals (the downstream ladder tests' fixture)."""
    for name in ("runs", "evals"):
        shutil.copy(ROOT / "tests" / "fixtures" / "ladder" / f"{name}.csv", folder / f"ladder_{name}.csv")


def _fixture(name: str) -> Callable[[Path], None]:
    """Copy a file of tests/fixtures (a law with made-up constants in a published form, or runs drawn from
    one) into the example's folder."""
    return lambda folder: shutil.copy(ROOT / "tests" / "fixtures" / name, folder)


GIVEN: dict[tuple[str, str], str | Callable[[Path], None]] = {
    ("scaling loss", "precision_law.json"): _fixture("precision_law.json"),
    ("scaling plan", "moe_law.json"): _fixture("moe_law.json"),
    ("README", "precision_law.json"): _fixture("precision_law.json"),
    ("README", "moe_law.json"): _fixture("moe_law.json"),
    ("scaling fit", "moe_runs.csv"): _fixture("moe_runs.csv"),
    ("scaling fit", "ptq_evals.csv"): _fixture("ptq_evals.csv"),
    ("README", "moe_runs.csv"): _fixture("moe_runs.csv"),
    ("README", "ptq_evals.csv"): _fixture("ptq_evals.csv"),
    ("scaling chart", "runs/runs.csv"): _synthetic_runs,
    ("scaling chart", "law.json"): "scaling fit runs/runs.csv -o law.json",
    ("scaling next", "runs"): "scaling sweep --preset smoke --out runs/",
    ("scaling sweep", "~/books"): _books,
    ("README", "path/to/config.json"): _config,
    ("scaling calibrate", "narayanan_table1.csv"): _narayanan,
    ("README", "narayanan_table1.csv"): _narayanan,
    ("scaling calibrate", "nim_llama33_70b_2xh100_fp8.jsonl"): _nim,
    ("README", "nim_llama33_70b_2xh100_fp8.jsonl"): _nim,
    ("README", "ladder_runs.csv"): _ladder,
    ("README", "ladder_evals.csv"): _ladder,
}


# ------------------------------------------------------------------------------------------ examples
def _helps(group: click.Group, path: str) -> list[tuple[str, str]]:
    """(command path, docstring) of a group and of every command under it."""
    out = [(path, group.help or "")]
    ctx = click.Context(group)  # list_commands, not .commands: the CLI registers its commands when asked
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            out += _helps(command, f"{path} {name}")
        elif command is not None:
            out.append((f"{path} {name}", command.help or ""))
    return out


def _examples(text: str) -> list[str]:
    """The example command lines of the ``\\b`` blocks of a docstring."""
    examples, in_block = [], False
    for line in text.splitlines():
        if line.strip() == "\b":
            in_block = True
        elif not line.strip():
            in_block = False
        elif in_block:
            match = re.match(r"\s*(?:[A-Z][A-Za-z ]*:\s+)?(scaling\s.*)$", line)
            if match:
                examples += re.split(r",\s+(?=scaling\s)", match.group(1).strip())
    return examples


def _key(example: str) -> str:
    """An example without its trailing comment, its words one space apart."""
    return " ".join(re.sub(r"\s#.*$", "", example).split())


def _readme_examples() -> list[str]:
    """The command lines of the README's bash blocks that start with ``scaling`` (a pipe into another tool is
    cut: the part that is ours runs)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [re.split(r"\s\|\s", line)[0] for line in lines if line.startswith("scaling ")]


EXAMPLES = [(help, _key(example)) for help, text in _helps(main, "scaling") for example in _examples(text)]
EXAMPLES += [("README", _key(example)) for example in _readme_examples()]


def _parts(example: str) -> list[list[str]]:
    """The argv (without ``scaling``) of each ``&&`` part."""
    return [shlex.split(part)[1:] for part in example.split(" && ")]


def _path(token: str) -> str:
    return token.rstrip("/")


def _made(example: str) -> set[str]:
    return {
        _path(args[i + 1])
        for args in _parts(example)
        for i, token in enumerate(args[:-1])
        if token in OUTPUT_OPTIONS
    }


def _under(token: str, path: str) -> bool:
    return _path(token) == path or token.startswith(path + "/")


def _needs(example: str) -> list[str]:
    """The words of an example that are not files it makes itself (nor under them)."""
    own = _made(example)
    return [t for args in _parts(example) for t in args if not any(_under(t, m) for m in own)]


def steps(help: str, example: str) -> list[str]:
    """What runs from an empty folder: the files the example names that no example of its help makes
    (`GIVEN`), the earlier examples of its help that make one (and what those need), then the example."""
    earlier = [e for h, e in EXAMPLES if h == help]
    earlier = earlier[: earlier.index(example)]
    needs = _needs(example)
    out: list[str] = []
    for given_help, path in GIVEN:
        named = given_help == help and any(_under(t, path) for t in needs)
        if named and not any(path in _made(e) for e in earlier):
            out.append(f"given:{help}:{path}")
    for before in earlier:
        if any(_under(t, path) for t in needs for path in _made(before)):
            out += steps(help, before)
    return [*dict.fromkeys(out), example]


def _given_step(step: str) -> Callable[[Path], None] | str:
    _, help, path = step.split(":", 2)
    return GIVEN[(help, path)]


def _commands(step_list: list[str]) -> list[str]:
    """Every command line the steps run (a given one as its own command line)."""
    lines = []
    for step in step_list:
        made = _given_step(step) if step.startswith("given:") else step
        lines += [made] if isinstance(made, str) else []
    return lines


def _trains(lines: list[str]) -> bool:
    return any(args[0] in TRAINING for line in lines for args in _parts(line))


# ------------------------------------------------------------------------------------------ running
def _run(line: str, folder: Path) -> None:
    for args in _parts(line):
        args = [os.path.expanduser(a) if a.startswith("~") else a for a in args]
        if args[0] in SERVERS:
            _serve(args, folder)
            continue
        with _tables_printed() as tables:
            result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, f"scaling {shlex.join(args)}\n{result.output}"
        if args[0] not in TRAINING and "--json" not in args:
            _fits_a_terminal(result.stdout)
            for table in tables:
                _has_its_headers(table)


@contextlib.contextmanager
def _tables_printed() -> Iterator[list[Any]]:
    """The `scaling.render.Table`s a command renders as text while the block runs."""
    from scaling.render import Table

    seen: list[Any] = []
    text = Table.text

    def spy(self: Any, *args: Any, **kwargs: Any) -> str:
        seen.append(self)
        return text(self, *args, **kwargs)

    Table.text = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Table.text = text  # type: ignore[method-assign]


def _has_its_headers(table: Any) -> None:
    """A table of more than two columns (not a label-value list) heads every column; headers name each."""
    columns = max((len(row) for row in table.rows), default=0)
    assert table.headers or columns <= 2, f"table {table.title!r} has {columns} columns and no headers"
    if table.headers:
        assert len(table.headers) >= columns, f"table {table.title!r}: a column has no header"
        blank = [i for i, h in enumerate(table.headers) if not h.strip()]
        assert not blank, f"table {table.title!r}: column {blank[0] + 1} has an empty header"


MESSAGES = ("note:", "warning:", "error:", "  note:")  # one line each, whatever their length


def _fits_a_terminal(text: str) -> None:
    """Every table and line an example prints fits 120 columns (messages are one line each)."""
    wide = [line for line in text.splitlines() if len(line) > 120 and not line.startswith(MESSAGES)]
    assert not wide, f"{len(wide)} line(s) over 120 columns, e.g. {wide[0]!r}"


def _serve(args: list[str], folder: Path) -> None:
    """A server: started as a process, given a minute to answer its page, then stopped."""
    pytest.importorskip("dash")
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        BROWSER="true",  # webbrowser "opens" the page with /bin/true
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaling", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = []
        while not printed or not re.search(r"https?://\S+", printed[-1]):
            printed.append(proc.stdout.readline())
            assert printed[-1], f"scaling {shlex.join(args)} stopped: {''.join(printed)}"
        match = re.search(r"https?://\S+", printed[-1])
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(match.group(0), timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, f"{match.group(0)} never answered"
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_SNAPSHOTS: dict[tuple[str, ...], Path] = {}  # steps run -> a copy of the folder they left


def _prepare(step_list: list[str], folder: Path, store: Path) -> None:
    """Run the steps in ``folder``, starting from the longest prefix already run by an earlier test."""
    done = max((n for n in range(len(step_list)) if tuple(step_list[:n]) in _SNAPSHOTS), default=0)
    if done:
        shutil.copytree(_SNAPSHOTS[tuple(step_list[:done])], folder, dirs_exist_ok=True)
    for n, step in enumerate(step_list[done:], start=done + 1):
        made = _given_step(step) if step.startswith("given:") else step
        if callable(made):
            made(folder)
        else:
            _run(made, folder)
        snapshot = store / f"s{len(_SNAPSHOTS)}"
        shutil.copytree(folder, snapshot, symlinks=True)
        _SNAPSHOTS[tuple(step_list[:n])] = snapshot


def _param(help: str, example: str):
    step_list = steps(help, example)
    lines = _commands(step_list)
    marks = []
    if _trains(lines):
        marks.append(pytest.mark.torch)
    if any(line in SLOW for line in lines):
        marks += [pytest.mark.slow, pytest.mark.long]
    if re.search(r"\.(png|svg|pdf)\b", example):
        marks.append(pytest.mark.browser)
    where = help.removeprefix("scaling").strip() or "main"
    name = re.sub(r"[^\w.,=:-]+", "_", f"{where}:{example.removeprefix('scaling ')}")
    return pytest.param(help, example, marks=marks, id=name)


@pytest.mark.parametrize("help, example", [_param(h, e) for h, e in EXAMPLES])
def test_help_example_runs_as_written(help, example, tmp_path, tmp_path_factory, monkeypatch):
    step_list = steps(help, example)
    if _trains(_commands(step_list)):
        pytest.importorskip("torch")
    if "--device cuda" in example:
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("no GPU")
    if re.search(r"\.(png|svg|pdf)\b", example):
        pytest.importorskip("kaleido")
        if not (shutil.which("chromium") or shutil.which("chromium-browser")):
            pytest.skip("an image export needs a Chromium")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "home").mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(folder / "home"))
    monkeypatch.setattr("webbrowser.open", lambda *args, **kwargs: True)  # --open
    _prepare(step_list, folder, tmp_path_factory.mktemp("snapshots"))


def test_every_help_has_its_examples_found():
    """The extraction itself: the main help's workflow, a labelled line of several commands, a comment."""
    found = dict.fromkeys(e for h, e in EXAMPLES if h == "scaling")
    assert "scaling sweep --preset smoke --out runs/ && scaling fit runs/" in found
    assert "scaling next runs/ --budget-flops 5e13 -o next.csv" in found
    assert {"scaling models", "scaling gpus", "scaling laws", "scaling app"} <= set(found)
    assert "scaling sweep --preset medium --device cuda --out runs/gpu" in {e for _, e in EXAMPLES}
    helps = {h for h, _ in EXAMPLES}
    assert {"scaling", "scaling chart", "scaling next", "scaling sweep", "scaling plan", "README"} <= helps
    readme = {e for h, e in EXAMPLES if h == "README"}
    assert "scaling plan --gpus 512xH100 --days 30 --json" in readme  # `| jq .architecture` cut
    assert "scaling flops path/to/config.json --tokens 1T" in readme
