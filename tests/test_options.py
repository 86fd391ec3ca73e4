"""Every option declared once (`scaling.options`): the commands' flags, the app's fields and the library's
keywords are generated from the declarations, a shared option is one object, and the default MFU has
one home."""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaling import options
from scaling.cli import main
from scaling.commands._common import DeclaredArgument, DeclaredOption
from scaling.options import FINETUNE, FLOPS, GPUS, MEMORY, MFU, PLAN, PRICE, SERVING

ROOT = Path(__file__).resolve().parent.parent


def _command(name: str):
    import click

    ctx = click.Context(main)
    return main.get_command(ctx, name)


FACES = {"plan": PLAN, "memory": MEMORY, "inference": SERVING, "finetune": FINETUNE, "flops": FLOPS}


@pytest.mark.parametrize("name", sorted(FACES))
def test_every_flag_comes_from_a_declaration(name):
    command = _command(name)
    params = [p for p in command.params if p.name != "help"]
    assert params and all(isinstance(p, (DeclaredOption, DeclaredArgument)) for p in params), [
        p.name for p in params if not isinstance(p, (DeclaredOption, DeclaredArgument))
    ]
    for param in params:
        option = param.declared
        assert param.name == option.name
        if isinstance(param, DeclaredOption):
            assert param.opts[0] == option.flag and set(option.flags) <= set(param.opts)
    # the request's options are all on the command, each once
    declared = [p.declared for p in params]
    assert all(any(o is d for d in declared) for o in FACES[name])
    assert len({id(d) for d in declared}) == len(declared)


def test_a_shared_option_is_one_object_in_every_command():
    def declared(name: str, flag: str):
        return next(p.declared for p in _command(name).params if getattr(p, "opts", [None])[0] == flag)

    for name in ("plan", "memory", "finetune", "flops"):
        assert declared(name, "--mfu") is MFU
    for name in ("plan", "memory", "inference", "finetune", "flops"):
        assert declared(name, "--gpus") is GPUS
    for name in ("plan", "inference", "finetune", "flops"):
        assert declared(name, "--price") is PRICE
    # serving's --mfu is another number (the prefill kernels' share of peak, a cited default): its own option
    assert declared("inference", "--mfu") is not MFU and declared("inference", "--mfu").default is None


def test_the_default_mfu_is_written_once():
    """The number 0.4 appears as a literal once in the package: `scaling.cost.DEFAULT_MFU`; every default
    MFU (the commands', the app's, the library's) reads it."""
    found = []
    for path in sorted((ROOT / "scaling").rglob("*.py")):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            literal = token.type == tokenize.NUMBER and token.string.replace("_", "") in ("0.4", ".4", "4e-1")
            text = token.type == tokenize.STRING and token.string.strip("\"'") in ("0.4", "40%")
            if literal or text:
                found.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.line.strip()}")
    assert len(found) == 1 and found[0].startswith("scaling/cost.py") and "DEFAULT_MFU = 0.4" in found[0], (
        found
    )
    from scaling.cost import DEFAULT_MFU

    assert MFU.default is DEFAULT_MFU


def test_the_apps_fields_are_the_declared_options():
    pytest.importorskip("dash")
    from scaling.app import page, views

    for fields, declaration in ((views.PLAN_OPTIONS, PLAN), (views.MEMORY_OPTIONS, MEMORY)):
        for field, option in fields.items():
            assert option is declaration[option.name]
            assert field == (option.flag.removeprefix("--") if option.flags else "model")
    assert views.PLAN_FIELDS == tuple(views.PLAN_OPTIONS) and views.MEMORY_FIELDS == tuple(
        views.MEMORY_OPTIONS
    )
    # labels and placeholders: each field's flag and its option's example, else its default
    for field, (label, placeholder) in page.PLAN_HELP.items():
        option = views.PLAN_OPTIONS[field]
        assert (label, placeholder) == (option.flag, option.placeholder or f"{option.default} (default)")
    assert page.PLAN_HELP["mfu"] == ("--mfu", "0.4 or 40%") and page.PLAN_HELP["model"][0] == "MODEL"
    assert views.DEFAULT_PLAN["mfu"] == str(MFU.default)
    form = str(page.plan_form(["chinchilla"], ["H100"], ["llama-2-7b"]))
    for field, option in views.PLAN_OPTIONS.items():
        if field != "law":
            assert repr(page.placeholder(option)) in form and page.placeholder(option), field
    # choices are menus of the accepted values, every other field shows an example or its default
    assert "Dropdown(options=['deepseek'" in form and "Dropdown(options=['cosine', 'wsd']" in form
    memory = str(page.memory_form(["llama-2-7b"]))
    for field, option in views.MEMORY_OPTIONS.items():
        menu = page.MEMORY_CHOICES.get(field)
        if field != "model":  # MODEL: the presets' menu
            assert (
                (f"options={list(menu)!r}" in memory) if menu else (repr(page.placeholder(option)) in memory)
            )
            assert menu or page.placeholder(option), field


def test_an_unknown_library_keyword_is_refused_naming_the_accepted_ones():
    from scaling.finetune.request import finetune_request
    from scaling.memory import memory_request
    from scaling.plan import make_plan

    for call in (
        lambda: make_plan(flops=1e22, gpu=8),
        lambda: memory_request(model="llama-2-7b", tensor_parallel=2),
        lambda: finetune_request(model="llama-2-7b", gpus="8xH100", lr=1e-4),
    ):
        with pytest.raises(TypeError) as info:
            call()
        message = str(info.value)
        assert "unexpected keyword argument" in message and "it accepts:" in message
    with pytest.raises(TypeError, match="'gpu'.*it accepts: .*gpus.*days.*mfu"):
        make_plan(flops=1e22, gpu=8)
    with pytest.raises(TypeError, match="missing required keyword argument 'gpus'"):
        finetune_request(model="llama-2-7b", tokens="1M")


def test_each_value_is_parsed_once_whatever_the_face():
    """The command line, the app and the library hand text to one parser per option: the same plan."""
    from scaling.plan import make_plan

    library = make_plan(gpus="64x8xA100-40GB", days="30d", mfu="40%", price="$2.49/h", law="chinchilla")
    result = CliRunner().invoke(
        main,
        ["plan", "--gpus", "64x8xA100-40GB", "--days", "30d", "--mfu", "40%", "--price", "$2.49/h", "--json"],
    )
    cli = json.loads(result.stdout)
    assert cli["flops"] == library.budget_flops and cli["cost_usd"] == library.cost.cost_usd
    assert cli["inputs"] == library.to_dict()["inputs"]
    assert cli["inputs"]["days"] == "30d" and cli["inputs"]["mfu"] == "40%"  # echoed as typed
    parsed = PLAN.parse(days="30d", mfu="40%")
    assert (parsed.days, parsed.mfu, parsed.given) == (30 * 86400.0, 0.4, frozenset({"days", "mfu"}))
    assert PLAN.parse().mfu == MFU.default and PLAN.parse().dtype == "bf16"


def test_plan_from_and_finetune_continued_are_one_question():
    """``scaling plan --from M`` asks what ``scaling finetune M --continued`` asks, in the library
    (`scaling.finetune.request.plan_finetune_request`), and prints the same answer."""
    common = ["--unique-tokens", "50B", "--gpus", "64xH100", "--days", "3", "--price", "2.5", "--json"]
    plan = CliRunner().invoke(main, ["plan", "--from", "llama-2-7b", *common])
    finetune = CliRunner().invoke(main, ["finetune", "llama-2-7b", "--continued", *common])
    assert plan.exit_code == finetune.exit_code == 0, (plan.output, finetune.output)
    assert json.loads(plan.stdout) == json.loads(finetune.stdout)
    from scaling.finetune.request import plan_finetune_request
    from scaling.plan import continued_request

    request = continued_request("llama-2-7b", PLAN.parse(unique_tokens="50B", gpus="64xH100", days="3"))
    assert request.continued and request.seconds == 3 * 86400.0 and request.cluster.devices == 64
    assert plan_finetune_request(request).to_dict() == json.loads(
        CliRunner().invoke(main, ["finetune", "llama-2-7b", "--continued", *common[:6], "--json"]).stdout
    )


def test_the_declarations_are_well_formed():
    for declaration in (PLAN, MEMORY, SERVING, FINETUNE, FLOPS):
        flags = [f for o in declaration for f in o.flags]
        assert len(flags) == len(set(flags)), declaration.caller
        for option in declaration:
            assert option.help, option.name
            assert not (option.choices and option.parse), option.name
            if option.default is not None and not option.is_flag and not option.multiple:
                assert option.parse_value(option.default) == option.default or option.parse is None, (
                    option.name
                )
    assert options.ACCELERATOR_FILES.default == ()
