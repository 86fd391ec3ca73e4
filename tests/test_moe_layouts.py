"""Mixture-of-experts layouts: per-rank parameters under EP x ETP x TP x PP x DP with ZeRO (Megatron-LM's
theoretical_memory_usage.py after PR #4687), the heaviest pipeline stage, the expert all-to-all, and
DeepSeek-V3's published training run (DeepSeek-AI 2024, arXiv 2412.19437)."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main as cli
from scaling.cluster import Cluster, parse_cluster
from scaling.cost import compute_cost
from scaling.flops import training_flops
from scaling.layout import LayoutChoices, all_to_all_bytes_per_token, search_layouts
from scaling.memory import ModelShape, Parallelism, Precision, Workload, estimate_memory, stage_params
from scaling.model import ModelSpec, load_model

# The model of Megatron-LM's test_weight_and_optimizer_memory.py (PR #4687): h 8, d_ff 16, 4 routed experts
# of width 16 (top-1), a shared expert of width 8, layers [dense, MoE], vocabulary 32 tied, RMSNorm.
MEGATRON_TEST = dict(
    name="megatron-pr4687",
    n_layer=2,
    d_model=8,
    n_head=2,
    n_kv_head=2,
    d_ff=16,
    gated_ffn=False,
    vocab_size=32,
    n_ctx=16,
    norm="rmsnorm",
    position="rope",
    tied_embeddings=True,
    n_experts=4,
    experts_per_token=1,
    d_ff_expert=16,
    d_ff_shared=8,
    dense_layers=1,
)
# TP 2, PP 2, EP 2, ETP 4 on 64 devices: DP = 64 / (2 x 2) = 16, EDP = 64 / (4 x 2 x 2) = 4; ETP x EP != TP
MEGATRON_SPLIT = dict(tp=2, pp=2, ep=2, etp=4, zero=1)


def _megatron_states(spec: ModelSpec) -> object:
    """Model states only under Megatron's accounting: bf16 weights, fp32 gradients, fp32 master + Adam
    sharded by the distributed optimizer, i.e. 6 + 12/DP bytes per parameter (6 + 12/EDP for experts)."""
    return estimate_memory(
        spec,
        parallel=Parallelism.of(**MEGATRON_SPLIT),
        cluster=Cluster(devices=64),
        convention="megatron",
        workload=Workload.of(micro_batch=0),
    )


def test_megatron_pr4687_test_vector_per_stage_hand_computed():
    m = _megatron_states(ModelSpec(**MEGATRON_TEST))
    assert (m.inputs["dp"], m.inputs["edp"]) == (16, 4)
    dense_b, expert_b = 6 + 12 / 16, 6 + 12 / 4
    # stage 0: the dense layer (attention 4h^2 = 256, FFN 2·h·d_ff = 256) and the embedding h·V = 256 over TP;
    # its two RMSNorms (2h = 16) replicated
    stage0 = (256 + 256 + 256) / 2 * dense_b + 16 * dense_b
    # stage 1: the MoE layer (attention 256, shared expert 2·8·8 = 128) and the tied head's copy (256), TP;
    # norms 16 + router h·E = 32 + final norm 8 replicated; the routed experts 4 x 2·8·16 = 1024 / (ETP x EP)
    stage1 = (256 + 128 + 256) / 2 * dense_b + (16 + 32 + 8) * dense_b + 1024 / (4 * 2) * expert_b
    assert [s["total_bytes"] for s in m.stages] == pytest.approx([stage0, stage1])
    assert (m.heaviest_stage, m.total_bytes) == (1, pytest.approx(stage1))
    # The pre-fix formula divided the experts by TP and sharded their optimizer over DP: 1024/2 x (6 + 12/16)
    # on that stage instead of 1024/8 x (6 + 12/4), 3x too many bytes here.
    old_experts = 1024 / 2 * dense_b
    assert old_experts / (1024 / 8 * expert_b) == pytest.approx(3.0)


def test_megatron_pr4687_formula_when_every_layer_is_moe():
    """With both layers MoE, Megatron's most-loaded-shard formula (stage = 1/PP of the layers) is
    ((TP-sharded/PP + embedding)/TP + replicated/PP) x (6 + 12/DP) + experts/(PP·ETP·EP) x (6 + 12/EDP); it
    averages the final norm over the stages, where we keep it on the last."""
    spec = ModelSpec(**{**MEGATRON_TEST, "dense_layers": 0})
    dense_b, expert_b = 6 + 12 / 16, 6 + 12 / 4
    megatron = ((2 * (256 + 128) / 2 + 256) / 2 + (2 * 48 + 8) / 2) * dense_b + 2 * 1024 / (
        2 * 4 * 2
    ) * expert_b
    stage0 = _megatron_states(spec).stages[0]["total_bytes"]
    assert stage0 == pytest.approx(megatron - 8 / 2 * dense_b)


@settings(max_examples=40, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    etp=st.sampled_from([1, 2, 4, 8]),
    ep=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 2, 4, 8, 16]),
    stage=st.integers(0, 15),
)
def test_routed_experts_divide_by_etp_times_ep_only(tp, etp, ep, pp, stage):
    shape = ModelShape.of(load_model("deepseek-v3"))
    stage = min(stage, pp - 1)
    dense, experts = stage_params(shape, stage, tp=tp, pp=pp, ep=ep, etp=etp)
    dense1, experts1 = stage_params(shape, stage, tp=tp, pp=pp, ep=1, etp=1)
    assert dense == pytest.approx(dense1)  # EP and ETP leave everything but the routed experts alone
    assert experts * etp * ep == pytest.approx(experts1)
    total = sum(
        sum(stage_params(shape, s, tp=1, pp=pp)) for s in range(pp)
    )  # the stages hold the model once (a tied head would add its copy on the last)
    assert total == pytest.approx(shape.params)


def test_edp_shards_expert_optimizer_states():
    spec = load_model("mixtral-8x7b")
    common = dict(cluster=Cluster(devices=64), workload=Workload.of(micro_batch=0))
    z0 = estimate_memory(spec, parallel=Parallelism.of(tp=2, ep=8, etp=1, zero=0), **common)
    z1 = estimate_memory(spec, parallel=Parallelism.of(tp=2, ep=8, etp=1, zero=1), **common)
    shape = ModelShape.of(spec)
    dense, experts = stage_params(shape, 0, tp=2, ep=8, etp=1)
    dp, edp = 32, 64 // (1 * 8)
    assert z1.inputs["edp"] == edp
    assert z1.optimizer_bytes == pytest.approx(8 * (dense / dp + experts / edp))
    assert z0.optimizer_bytes == pytest.approx(8 * (dense + experts))


def test_heaviest_stage_of_an_uneven_split_is_named():
    run = CliRunner().invoke(
        cli, ["memory", "llama-2-7b", "--gpus", "8xH100", "--pp", "4", "--pp-layers", "7,9,9,7", "--json"]
    )
    assert run.exit_code == 0, run.output
    d = json.loads(run.output)
    assert [s["layers"] for s in d["stages"]] == [7, 9, 9, 7]
    assert d["heaviest_stage"] == 1  # 9 layers and 3 micro-batches in flight outweigh stage 0's 7 and 4
    assert d["total_bytes"] == max(s["total_bytes"] for s in d["stages"])
    assert "heaviest stage 1 of PP 4 (9 layers; split 7,9,9,7, given)" in d["terms"][0]["rule"]
    even = estimate_memory(
        "llama-2-7b", parallel=Parallelism.of(pp=4, pp_layers="even"), cluster=Cluster(devices=8)
    )
    assert even.heaviest_stage == 0 and [s["layers"] for s in even.stages] == [8, 8, 8, 8]


def test_last_stage_holds_the_logits_first_the_embedding():
    spec, cluster = load_model("llama-2-7b"), Cluster(devices=8)
    m = estimate_memory(
        spec, parallel=Parallelism.of(pp=4), cluster=cluster, workload=Workload.of(micro_batch=4)
    )
    shape = ModelShape.of(spec)
    first, _ = stage_params(shape, 0, pp=4)
    middle, _ = stage_params(shape, 1, pp=4)
    last, _ = stage_params(shape, 3, pp=4)
    assert first - middle == pytest.approx(spec.vocab_size * spec.d_model)  # the embedding
    assert last - middle == pytest.approx(spec.vocab_size * spec.d_model + spec.d_model)  # head + final norm
    assert m.stages[3]["total_bytes"] < m.stages[0]["total_bytes"]  # 1 micro-batch in flight, not 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pp", "4", "--pp-layers", "8,8,8"], "gives 3 stages"),
        (["--pp", "4", "--pp-layers", "8,8,8,9"], "holds 33 layers"),
        (["--pp", "2", "--pp-layers", "16,x"], "invalid layers per stage 'x'"),
        (["--etp", "2"], "needs a mixture-of-experts model"),
    ],
)
def test_bad_split_is_one_line_exit_2(args, message):
    run = CliRunner().invoke(cli, ["memory", "llama-2-7b", "--gpus", "8xH100", *args])
    assert run.exit_code == 2 and message in run.output and "Traceback" not in run.output


def test_bad_etp_for_moe_is_one_line_exit_2():
    run = CliRunner().invoke(cli, ["memory", "mixtral-8x7b", "--gpus", "16xH100", "--ep", "8", "--etp", "4"])
    assert run.exit_code == 2 and "ETP x EP x PP = 4 x 8 x 1" in run.output


def test_deepseek_v3_report_parallelism_heaviest_stage():
    """DeepSeek-V3 §3.2: PP 16, EP 64 over 8 nodes, ZeRO-1 DP, no TP, FP8 on 2,048 H800. The even split
    (4 layers on stages 0-12) overflows stage 1 (four MoE layers, 15 micro-batches in flight); the default
    split keeps four layers at most a stage and gives the three-layer stages to the early stages, which hold
    the most micro-batches in flight: it fits within the H800's 80 GiB."""
    args = ["memory", "deepseek-v3", "--mode", "train", "--gpus", "2048xH800", "--pp", "16", "--ep", "64"]
    args += ["--zero", "1", "--precision", "fp8", "--json"]
    d = json.loads(CliRunner().invoke(cli, args).output)
    assert (d["inputs"]["edp"], d["inputs"]["dp"], len(d["stages"])) == (2, 128, 16)
    assert d["inputs"]["pp_layers"] == [4, 3, 3, 3] + [4] * 12 and d["inputs"]["pp_split"] == "balanced"
    assert d["fits"] is True and d["heaviest_stage"] == 4
    assert d["total_bytes"] / 2**30 == pytest.approx(67.67, abs=0.01)
    assert "heaviest stage 4 of PP 16 (4 layers; split 4,3,3,3,4," in d["terms"][0]["rule"]
    assert any("§3.2.3 recomputes RMSNorm and the MLA up-projections" in n for n in d["notes"])
    even = json.loads(CliRunner().invoke(cli, [*args, "--pp-layers", "even"]).output)
    assert even["fits"] is False and even["heaviest_stage"] == 1
    assert even["total_bytes"] / 2**30 == pytest.approx(82.08, abs=0.01)


def test_deepseek_v3_h800_hours_imply_its_mfu():
    """DeepSeek-V3 Table 1: 2,664K H800 GPU-hours of pre-training on 14.8T tokens, 180K per trillion tokens
    (3.7 days on 2,048 H800); 671B total, 37B activated parameters."""
    spec = load_model("deepseek-v3")
    assert spec.params / 671e9 == pytest.approx(1.0, abs=0.005)
    assert spec.active_params / 37e9 == pytest.approx(1.0, abs=0.02)
    flops = training_flops(spec, 14.8e12, convention="6nd").flops
    seconds = 2.664e6 * 3600 / 2048
    mfu = flops / (2048 * 989.4e12 * seconds)  # bf16 dense peak of the H800 (= H100 SXM5)
    assert 0.34 < mfu < 0.36  # 6 x 37.6B x 14.8T over 2.664M H800-hours: 35% of bf16, 17.6% of fp8 peak
    cost = compute_cost(flops / 14.8, accelerator="H800", devices=2048, mfu=mfu)  # one trillion tokens
    assert cost.gpu_hours == pytest.approx(180e3, rel=0.001) and cost.days == pytest.approx(3.66, abs=0.01)
    fp8 = compute_cost(flops, accelerator="H800", devices=2048, mfu=mfu / 2, dtype="fp8")
    assert fp8.gpu_hours == pytest.approx(2.664e6, rel=0.001)


def test_deepseek_v3_all_to_all_bytes_per_token():
    """DeepSeek-V3 §3.2.2 / §3.3: each token's hidden state (h = 7168) goes to 8 routed experts, dispatched
    in FP8 (1 B) and combined in BF16 (2 B); forward and backward: 2 x 8 x 7168 x 3 B, of which (EP-1)/EP
    leaves the rank (the report's scales, 4 B per 128 values, are left out)."""
    spec = load_model("deepseek-v3")
    per_token = all_to_all_bytes_per_token(spec, 64, Precision.of("fp8"))
    assert per_token == pytest.approx(2 * 8 * 7168 * (1 + 2) * 63 / 64)
    assert all_to_all_bytes_per_token(spec, 1, Precision.of("fp8")) == 0.0


def test_search_places_experts_and_agrees_with_estimate():
    spec, cluster = load_model("mixtral-8x7b"), parse_cluster("32xH100")
    df = search_layouts(
        spec,
        cluster=cluster,
        workload=Workload.of(global_batch=64, seq_len=4096),
        choices=LayoutChoices(
            tp=(2, 4), pp=(1, 2), zero=(1,), micro_batch=(1,), recompute=("full",), sp=(True,)
        ),
        top=None,
    )
    assert set(df["ep"]) > {1} and set(df["etp"]) > {1}
    assert all(32 % (r.etp * r.ep * r.pp) == 0 for r in df.itertuples())
    assert (df.loc[df["ep"] > 1, "ep_comm_s"] > 0).all() and (
        df.loc[(df["ep"] == 1) & (df["etp"] == 1), "ep_comm_s"] == 0
    ).all()
    for r in list(df.itertuples())[:5]:
        one = estimate_memory(
            spec,
            parallel=Parallelism.of(tp=r.tp, pp=r.pp, ep=r.ep, etp=r.etp, zero=r.zero, sp=r.sp),
            cluster=cluster,
            workload=Workload.of(micro_batch=1, seq_len=4096, global_batch=64, recompute="full"),
        )
        assert one.total_bytes == pytest.approx(r.total_bytes) and one.heaviest_stage == r.heaviest_stage
    assert math.isfinite(df["max_mfu"].max())


def test_deepseek_v3_plan_time_lands_near_its_published_h800_hours():
    """DeepSeek-V3 Table 1: 2,664K H800 GPU-hours for 14.8T tokens of pre-training on 2,048 H800s (2.788M with
    context extension and post-training). The plan counts a MoE's compute at its active parameters, and its
    step model on the layout it finds predicts the time within 15% of the published hours (the MFU it
    implies, 35% of the bf16 peak, against the plan's 40%)."""
    from scaling.plan import make_plan

    plan = make_plan(model="deepseek-v3", tokens=14.8e12, gpus="2048xH800")
    spec = plan.spec
    assert plan.budget.flops == pytest.approx(6 * spec.active_params * 14.8e12, rel=1e-12)
    assert plan.cost.gpu_hours == pytest.approx(2.664e6, rel=0.15)
    assert plan.fits
    assert any("dense law" in w and "671B total parameters" in w for w in plan.warnings)
