"""A sweep's training recipe (`scaling sweep --recipe fixed|tuned`): the `tuned` recipe scales the warmup with
the model (Porian et al. 2024, arXiv 2406.19146) and never shortens it for short runs; sweep.json records the
name, a folder keeps its own, and folders from before the choice stay valid (`fixed`, the same run ids).

Needs torch (planning a sweep builds the model specs); nothing is trained here.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from scaling.cli import main  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.train.model import gpt_spec  # noqa: E402
from scaling.train.run import RunConfig, default_warmup, lr_at, plan_steps  # noqa: E402
from scaling.train.sweep import SHAPES, plan_sweep, recipe_config, write_sweep_json  # noqa: E402
from scaling.train.sweep.recipe import TUNED_MAX_WARMUP_FRACTION, TUNED_MIN_WARMUP  # noqa: E402

pytestmark = pytest.mark.torch
RECIPE = {
    "seq_len": 128,
    "batch": 8,
    "seed": 0,
    "lr": None,
    "evals": 10,
    "eval_windows": 320,
    "data": "stdlib",
}


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    budget=st.floats(1e10, 1e14),
    batch=st.sampled_from([1, 4, 8, 32]),
    seq_len=st.sampled_from([64, 128]),
)
def test_tuned_warmup_is_n_tokens_porian_2024_with_a_floor_and_at_most_a_third(shape, budget, batch, seq_len):
    """Porian et al. 2024 (their Fig. 1, 'correcting warmup', and their code): warmup tokens = the model's
    parameter count N; here never under TUNED_MIN_WARMUP steps, and at most a third of the run."""
    recipe = {**RECIPE, "batch": batch, "seq_len": seq_len, "name": "tuned"}
    config = recipe_config(recipe, shape, budget)
    steps = plan_steps(config, config.spec())
    n = gpt_spec(*shape, seq_len=seq_len).params
    tokens_per_step = batch * seq_len
    fixed = recipe_config({**recipe, "name": "fixed"}, shape, budget)
    assert config.beta2 == fixed.beta2 and config.lr == fixed.lr
    # a warmup equal to the fixed rule's is left to it: the same run, under the same id
    assert (config.warmup is None) == (config == fixed)
    assert config.warmup != default_warmup(steps)
    warmup = config.warmup if config.warmup is not None else default_warmup(steps)
    assert 1 <= warmup <= max(1, steps * TUNED_MAX_WARMUP_FRACTION)
    capped = warmup == max(1, int(steps * TUNED_MAX_WARMUP_FRACTION))
    assert capped or warmup >= TUNED_MIN_WARMUP
    # N tokens: the first whole step count that covers N, unless the floor or the cap decides
    tokens = n / tokens_per_step
    assert capped or warmup == TUNED_MIN_WARMUP or warmup - 1 < tokens <= warmup
    # the schedule reaches its peak exactly at the end of the warmup
    assert lr_at(warmup - 1, steps, config) == pytest.approx(config.lr)


def test_tuned_warmup_grows_with_the_model_and_not_shrinks_with_the_run():
    """At 4.8e12 FLOPs (the held-out budget of the `small` preset) d24l2 (N = 23,160) warms up for the
    100-step floor, as the fixed rule does (so it is the fixed recipe's run), and d96l3 (N = 369,312) for 361
    steps of 1024 tokens where the fixed rule gives 100. At 3e11 (329 steps) d64l2 warms up for 109 steps
    (N = 123,200) where the fixed rule gives 32."""
    tuned = {**RECIPE, "name": "tuned"}
    assert recipe_config(tuned, (24, 2), 4.8e12) == recipe_config(RECIPE, (24, 2), 4.8e12)
    assert recipe_config(tuned, (96, 3), 4.8e12).warmup == 361
    assert recipe_config(tuned, (64, 2), 3e11).warmup == 109
    fixed = recipe_config(RECIPE, (64, 2), 3e11)
    steps = plan_steps(fixed, fixed.spec())
    assert (fixed.warmup, steps) == (None, 329)
    assert lr_at(31, steps, fixed) == fixed.lr  # min(100, steps / 10): at the peak after 32 steps


def test_a_recipe_without_a_name_is_fixed_and_keeps_the_run_ids_of_older_folders():
    """Folders written before --recipe existed name no recipe: they plan as `fixed`, with RunConfig's own
    warmup and beta2, so their runs keep their ids (these two are from a `small` sweep made before)."""
    old = recipe_config(RECIPE, (16, 2), 3e11)
    assert old == recipe_config({**RECIPE, "name": "fixed"}, (16, 2), 3e11)
    assert (old.warmup, old.beta2) == (None, RunConfig.beta2)
    assert old.run_id == "c3e11-d16l2-s0-be0e483c"
    assert recipe_config(RECIPE, (24, 2), 1.2e12).run_id == "c1.2e12-d24l2-s0-a947cd1e"
    # under `tuned`, d16l2 at 3e11 trains exactly as under `fixed` (100 warmup steps): the same run and id;
    # d64l2 (109 warmup steps, not 32) is another run, under another id
    tuned = {**RECIPE, "name": "tuned"}
    assert recipe_config(tuned, (16, 2), 3e11).run_id == old.run_id
    assert recipe_config(tuned, (64, 2), 3e11).run_id != recipe_config(RECIPE, (64, 2), 3e11).run_id


def test_sweep_json_records_the_recipe_and_a_folder_keeps_its_own(tmp_path):
    write_sweep_json(plan_sweep(tmp_path, preset="smoke", recipe_name="tuned"))
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["recipe"]["name"] == "tuned"
    assert any(c["warmup"] for c in saved["configs"])
    again = plan_sweep(tmp_path, preset="smoke")  # no --recipe: the folder's own
    assert again.recipe["name"] == "tuned"
    assert [c.run_id for c in again.configs] == [RunConfig.from_dict(c).run_id for c in saved["configs"]]
    with pytest.raises(ScalingError, match="name: 'tuned' there, 'fixed' now"):
        plan_sweep(tmp_path, preset="smoke", recipe_name="fixed")
    # runs `scaling next` designs for the folder join it under its own recipe (`sweep --design`)
    from scaling.train.sweep.designed import sweep_arguments

    assert sweep_arguments(tmp_path)["recipe_name"] == "tuned"


def test_a_folder_from_before_the_recipe_choice_stays_valid(tmp_path):
    """A sweep.json without recipe.name (every folder before the choice) is a `fixed` sweep: planned again,
    it is neither refused nor re-planned."""
    first = plan_sweep(tmp_path, preset="smoke", recipe_name="fixed")
    write_sweep_json(first)
    path = tmp_path / "sweep.json"
    saved = json.loads(path.read_text())
    del saved["recipe"]["name"]
    path.write_text(json.dumps(saved))
    again = plan_sweep(tmp_path, preset="smoke")
    assert again.recipe["name"] == "fixed"
    assert [c.run_id for c in again.configs] == [c.run_id for c in first.configs]


def test_held_out_runs_use_the_folders_recipe(tmp_path):
    """bench/bench_extrapolation.py trains its held-out runs with `recipe_config` on the folder's recipe, so
    a tuned folder's held-out runs are tuned too."""
    write_sweep_json(plan_sweep(tmp_path, preset="smoke", recipe_name="tuned"))
    recipe = json.loads((tmp_path / "sweep.json").read_text())["recipe"]
    held_out = recipe_config(recipe, (32, 1), 4e10)
    assert held_out.warmup != recipe_config({**recipe, "name": "fixed"}, (32, 1), 4e10).warmup


def test_an_unknown_recipe_is_one_error_line_exit_2(tmp_path):
    result = CliRunner().invoke(
        main, ["sweep", "--preset", "smoke", "--recipe", "muP", "--out", str(tmp_path), "--dry-run"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'fixed', 'tuned'" in lines[0]
    with pytest.raises(ScalingError, match="unknown --recipe 'muP': expected fixed, tuned"):
        plan_sweep(tmp_path, preset="smoke", recipe_name="muP")


def test_dry_run_states_the_recipe_and_each_runs_warmup_and_beta2(tmp_path):
    result = CliRunner().invoke(
        main, ["sweep", "--preset", "smoke", "--recipe", "tuned", "--out", str(tmp_path), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "recipe: tuned (by size (after Porian et al. 2024)" in result.output
    header = next(line for line in result.output.splitlines() if line.startswith("run_id"))
    assert header.split()[-2:] == ["warmup", "beta2"]
    assert not (tmp_path / "sweep.json").exists()


def test_repeats_train_every_run_under_consecutive_seeds_and_the_folder_records_them(tmp_path):
    """--repeats 2: each (budget, size) under seeds s and s + 1, recorded in sweep.json; a folder without
    repeats is a sweep of one seed (older folders stay valid), and a different count is refused."""
    one = plan_sweep(tmp_path / "one", preset="smoke", seed=3)
    two = plan_sweep(tmp_path / "two", preset="smoke", seed=3, repeats=2)
    assert "repeats" not in one.recipe and two.recipe["repeats"] == 2
    assert len(two.configs) == 2 * len(one.configs)
    for config in one.configs:
        twins = [
            c
            for c in two.configs
            if (c.budget, c.d_model, c.n_layer) == (config.budget, config.d_model, config.n_layer)
        ]
        assert sorted(c.seed for c in twins) == [3, 4]
        assert config.run_id in {c.run_id for c in twins}  # seed 3's run is the one-seed sweep's own
    write_sweep_json(two)
    with pytest.raises(ScalingError, match="repeats: 2 there, None now"):
        plan_sweep(tmp_path / "two", preset="smoke", seed=3)
    result = CliRunner().invoke(
        main, ["sweep", "--preset", "smoke", "--repeats", "0", "--out", str(tmp_path / "bad"), "--dry-run"]
    )
    assert result.exit_code == 2 and "--repeats" in result.output and "Traceback" not in result.output
