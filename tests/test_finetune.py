"""Fine-tuning plans: FLOPs by term against `training_flops` and PyTorch's FLOP counter, memory against the
planner, the LoRA and QLoRA papers' published figures, continued pretraining, and the CLI."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.finetune import (
    QUANT_TIME_FACTOR,
    finetune_flops_per_token,
    model_flops_per_token,
    plan_continued_pretraining,
    plan_finetune,
)
from scaling.flops import training_flops
from scaling.laws import effective_data, get_law
from scaling.memory import Parallelism, Precision, Workload, estimate_memory
from scaling.model import ModelSpec, load_model

LAYOUT_KEYS = ("tp", "pp", "zero", "micro_batch", "recompute", "sp")
JSON_KEYS = ("flops", "flops_per_token", "seconds", "days", "gpu_hours", "cost_usd", "tokens_per_s", "layout")


# ------------------------------------------------------------------------------------------- FLOPs
@pytest.mark.parametrize("model", ["llama-2-7b", "gpt3-175b", "llama-3-70b"])
@pytest.mark.parametrize("convention", ["6nd", "exact"])
@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
def test_full_finetune_flops_are_training_flops(model, convention, recompute):
    spec = load_model(model)
    terms = finetune_flops_per_token(
        spec, full=True, convention=convention, seq_len=2048, recompute=recompute
    )
    reference = training_flops(spec, 1.0, convention=convention, seq_len=2048, recompute=recompute)
    assert model_flops_per_token(terms) == pytest.approx(reference.flops_per_token, rel=1e-12)
    assert sum(terms.values()) == pytest.approx(reference.hardware_flops_per_token, rel=1e-12)


def test_full_finetune_plan_flops_are_training_flops():
    plan = plan_finetune("llama-2-7b", tokens=3e7, epochs=3, accelerator="H100-SXM", devices=8, seq_len=2048)
    assert plan.method == "full"
    assert plan.flops == pytest.approx(training_flops(load_model("llama-2-7b"), 9e7).flops, rel=1e-12)
    assert plan.trainable_params == plan.params


def test_lora_skips_the_weight_gradients_of_the_frozen_base():
    spec = load_model("llama-2-7b")
    full = finetune_flops_per_token(spec, full=True)
    lora = finetune_flops_per_token(spec, adapter_params=1e7)
    assert lora["backward_weights"] == 0.0
    assert lora["forward"] == full["forward"] == lora["backward_activations"]  # 2N each under 6ND
    assert lora["adapters"] == 6.0 * 1e7
    assert model_flops_per_token(lora) == pytest.approx(4.0 * spec.params + 6e7)


@settings(max_examples=40, deadline=None)
@given(
    seq=st.integers(16, 32768),
    rank=st.integers(1, 256),
    recompute=st.sampled_from(["none", "selective", "full"]),
)
def test_lora_flops_invariants(seq, rank, recompute):
    spec = load_model("llama-2-7b")
    adapters = rank * 32 * 4 * (4096 + 4096)
    full = finetune_flops_per_token(spec, full=True, convention="exact", seq_len=seq, recompute=recompute)
    lora = finetune_flops_per_token(
        spec, adapter_params=adapters, convention="exact", seq_len=seq, recompute=recompute
    )
    assert 0 < model_flops_per_token(lora) < model_flops_per_token(full)
    assert lora["recompute"] >= full["recompute"]  # the adapters' forward is recomputed too (full recompute)
    assert all(value >= 0 for value in lora.values())


def test_moe_adapters_count_the_active_experts_only():
    """Mixtral 8x7B routes each token through 2 of 8 experts: their FFN adapters run, the other six do not."""
    kwargs = dict(tokens=1e7, accelerator="H200", devices=8, lora_rank=8, seq_len=1024)
    attention = plan_finetune("mixtral-8x7b", lora_targets="q,k,v,o", **kwargs)
    everything = plan_finetune("mixtral-8x7b", lora_targets="all", **kwargs)
    ffn_params = everything.trainable_params - attention.trainable_params
    extra = everything.flops_terms["adapters"] - attention.flops_terms["adapters"]
    assert extra == pytest.approx(6.0 * ffn_params * 2 / 8)


def test_bad_flops_inputs_name_the_value():
    spec = load_model("llama-2-7b")
    with pytest.raises(ScalingError, match="FLOP convention"):
        finetune_flops_per_token(spec, convention="kaplan")
    with pytest.raises(ScalingError, match="adapter parameter count"):
        finetune_flops_per_token(spec, adapter_params=-1)


# ------------------------------------------------------------------------- against PyTorch's counter
def _torch_gpt(torch, spec: ModelSpec, rank: int | None):
    """A pre-norm GPT of ``spec`` (learned nothing: no positions, tied head) with LoRA on Q, K, V and O."""
    nn, F = torch.nn, torch.nn.functional

    class Linear(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.base = nn.Linear(d_in, d_out, bias=False)
            self.rank = rank
            if rank:  # Hu et al. 2021: W x + B A x, A random and B zero at the start
                self.A = nn.Parameter(torch.randn(rank, d_in) / d_in**0.5)
                self.B = nn.Parameter(torch.zeros(d_out, rank))

        def forward(self, x):
            out = self.base(x)
            return out + (x @ self.A.T) @ self.B.T if self.rank else out

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = spec.d_model
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (Linear(d, d) for _ in range(4))
            self.up = nn.Linear(d, spec.ffn_dim, bias=False)
            self.down = nn.Linear(spec.ffn_dim, d, bias=False)

        def forward(self, x):
            b, s, d = x.shape
            h = self.ln1(x)
            q, k, v = (f(h).view(b, s, spec.n_head, -1).transpose(1, 2) for f in (self.q, self.k, self.v))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            mask = torch.ones(s, s, dtype=torch.bool).triu(1)
            att = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
            x = x + self.o(att.transpose(1, 2).reshape(b, s, d))
            return x + self.down(F.gelu(self.up(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(spec.vocab_size, spec.d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(spec.n_layer))
            self.ln_f = nn.LayerNorm(spec.d_model)

        def forward(self, idx):
            x = self.wte(idx)
            for block in self.blocks:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.T  # tied LM head

    model = GPT()
    if rank:
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith((".A", ".B")))
    return model


def _counted_training_flops(torch, model, spec: ModelSpec, batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    idx = torch.randint(0, spec.vocab_size, (batch, spec.n_ctx))
    with FlopCounterMode(display=False) as counter:
        logits = model(idx)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), idx.flatten()).backward()
    return float(counter.get_total_flops())


@pytest.mark.parametrize("rank", [None, 8])
def test_flops_match_pytorch_flop_counter(rank):
    """LoRA (frozen base, trained adapters) and full fine-tuning FLOPs, as autograd runs them, within 3%."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    spec = ModelSpec(n_layer=6, d_model=128, n_head=4, vocab_size=256, n_ctx=128, position="none")
    model = _torch_gpt(torch, spec, rank)
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if rank:  # the planner's adapter count is the model's
        planned = estimate_memory(
            spec, workload=Workload.of(micro_batch=0, lora_rank=rank), mode="finetune"
        ).trainable_params
        assert planned == trained
    terms = finetune_flops_per_token(
        spec,
        adapter_params=trained if rank else 0.0,
        full=rank is None,
        convention="exact",
        seq_len=spec.n_ctx,
        include_embeddings=False,
    )
    batch = 2
    counted = _counted_training_flops(torch, model, spec, batch)
    expected = model_flops_per_token(terms) * batch * spec.n_ctx
    assert counted == pytest.approx(expected, rel=0.03)


# ----------------------------------------------------------------------------------------- memory
def test_memory_is_the_planners_own_for_lora_and_qlora():
    for quant in (None, "nf4"):
        plan = plan_finetune(
            "llama-2-7b", tokens=1e8, accelerator="A100-80GB", lora_rank=16, quant=quant, seq_len=2048
        )
        same = estimate_memory(
            "llama-2-7b",
            precision=Precision.of("bf16", quant=quant),
            parallel=Parallelism.of(zero=plan.layout["zero"]),
            workload=Workload.of(
                seq_len=2048,
                global_batch=plan.global_batch,
                lora_rank=16,
                micro_batch=plan.layout["micro_batch"],
                recompute=plan.layout["recompute"],
            ),
            cluster=Cluster.of("A100-80GB"),
            mode="finetune",
        )
        assert plan.memory.to_dict() == same.to_dict()
        assert plan.to_dict()["memory"]["total_bytes"] == same.total_bytes


def test_full_finetune_memory_and_layout_are_the_search_own():
    from scaling.layout import search_layouts

    plan = plan_finetune("llama-2-13b", tokens=1e8, accelerator="A100-80GB", devices=8, seq_len=4096)
    df = search_layouts(
        "llama-2-13b",
        workload=Workload.of(global_batch=plan.global_batch, seq_len=4096),
        cluster=Cluster.of("A100-80GB", 8),
        mfu=0.4,
        top=1,
    )
    best = df.iloc[0]
    assert {k: plan.layout[k] for k in ("tp", "pp", "zero", "micro_batch")} == {
        k: int(best[k]) for k in ("tp", "pp", "zero", "micro_batch")
    }
    assert plan.layout["step_s"] == pytest.approx(float(best["step_s"]))
    assert plan.memory.total_bytes == pytest.approx(float(best["total_bytes"]), rel=1e-9)
    assert plan.seconds == pytest.approx(
        plan.trained_tokens / (plan.global_batch * 4096) * plan.layout["step_s"]
    )


def test_largest_micro_batch_and_sequence_fit_and_one_more_does_not():
    plan = plan_finetune("llama-2-7b", tokens=1e8, accelerator="A100-80GB", lora_rank=16, seq_len=2048)
    fixed = dict(
        mode="finetune",
        cluster=Cluster.of("A100-80GB"),
        parallel=Parallelism.of(zero=plan.layout["zero"]),
    )

    def fits(micro_batch: int, seq_len: int) -> bool:
        workload = Workload.of(
            micro_batch=micro_batch, seq_len=seq_len, lora_rank=16, recompute=plan.layout["recompute"]
        )
        return bool(estimate_memory("llama-2-7b", workload=workload, **fixed).fits)

    assert fits(plan.max_micro_batch, 2048) and not fits(plan.max_micro_batch + 1, 2048)
    assert fits(1, plan.max_seq_len) and not fits(1, plan.max_seq_len + 1)


def test_a_plan_that_does_not_fit_says_so_and_what_to_change():
    plan = plan_finetune("llama-2-70b", tokens=1e7, accelerator="A100-80GB", devices=1, seq_len=2048)
    assert plan.memory.fits is False and plan.to_dict()["memory"]["fits"] is False
    assert any("no layout fits" in w and "--lora-rank" in w for w in plan.warnings)
    smallest = estimate_memory(
        "llama-2-70b",
        workload=Workload.of(micro_batch=1, seq_len=2048, recompute="full"),
        cluster=Cluster.of("A100-80GB"),
        mode="finetune",
    ).total_bytes
    assert plan.memory.total_bytes == pytest.approx(smallest)


# ---------------------------------------------------------------------------------- published figures
def test_qlora_paper_65b_on_one_48gb_gpu():
    """Dettmers et al. 2023 (QLoRA), abstract and Fig. 1: finetuning LLaMA-65B needs >780 GB in 16-bit and
    <48 GB with QLoRA (NF4 base, LoRA r=64 on every linear layer, gradient checkpointing, paged optimizers:
    the 32-bit Adam states page out to CPU memory when the GPU fills, so they are left out here)."""
    full = estimate_memory("llama-65b", workload=Workload.of(micro_batch=0), mode="finetune")
    assert full.total_bytes > 780e9
    qlora = plan_finetune(
        "llama-65b",
        tokens=1e6,
        accelerator="A100-80GB",
        lora_rank=64,
        lora_targets="all",
        quant="nf4",
        seq_len=512,
    )
    checkpointed = estimate_memory(
        "llama-65b",
        precision=Precision.of("bf16", quant="nf4"),
        workload=Workload.of(micro_batch=1, seq_len=512, recompute="full", lora_rank=64, lora_targets="all"),
        mode="finetune",
    )
    assert checkpointed.total_bytes - checkpointed.optimizer_bytes < 48e9
    assert qlora.trainable_params == checkpointed.trainable_params
    assert qlora.memory.fits and qlora.max_micro_batch >= 1


# config.json fields of bigscience/T0_3B (T5 v1.1 LM-adapted XL), bigscience/mt0-xxl (mT5-XXL),
# bigscience/bloomz-7b1
PEFT_MODELS = {
    "T0_3B": dict(
        model_type="t5",
        d_model=2048,
        d_ff=5120,
        d_kv=64,
        num_heads=32,
        num_layers=24,
        num_decoder_layers=24,
        vocab_size=32128,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
    ),
    "mt0-xxl": dict(
        model_type="mt5",
        d_model=4096,
        d_ff=10240,
        d_kv=64,
        num_heads=64,
        num_layers=24,
        num_decoder_layers=24,
        vocab_size=250112,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
    ),
    "bloomz-7b1": dict(model_type="bloom", hidden_size=4096, n_layer=30, n_head=32, vocab_size=250880),
}


@pytest.mark.parametrize(
    ("model", "full_gib", "lora_gib"),
    [("T0_3B", 47.14, 14.4), ("mt0-xxl", None, 56.0), ("bloomz-7b1", None, 32.0)],
)
def test_peft_readme_memory_table(model, full_gib, lora_gib):
    """Hugging Face PEFT README, "Use Cases" table (one A100 80GB, ought/raft twitter_complaints): full
    fine-tuning T0_3B 47.14GB, mt0-xxl and bloomz-7b1 OOM; PEFT-LoRA (r=8 on q and v, fp32) 14.4GB,
    56GB and 32GB. The planner's totals (batch 8 x 64 tokens) land within 10% (it adds the CUDA context the
    table leaves out)."""
    from scaling.model import spec_from_hf_config

    spec = spec_from_hf_config(PEFT_MODELS[model], name=model)
    kwargs = dict(
        tokens=1e6, accelerator="A100-80GB", precision="fp32", seq_len=64, global_batch=8, recompute="none"
    )
    lora = plan_finetune(spec, lora_rank=8, lora_targets="q,v", **kwargs)
    assert lora.fits and lora.layout["micro_batch"] == 8
    assert lora.memory.total_bytes / 2**30 == pytest.approx(lora_gib, rel=0.1)
    full = plan_finetune(spec, **kwargs)
    if full_gib is None:
        assert not full.fits
    else:
        same_batch = estimate_memory(
            spec,
            precision=Precision.of("fp32"),
            workload=Workload.of(micro_batch=8, seq_len=64),
            mode="finetune",
        )
        assert full.fits and same_batch.total_bytes / 2**30 == pytest.approx(full_gib, rel=0.1)


@pytest.mark.parametrize(("rank", "published"), [(1, 4.7e6), (8, 37.7e6)])
def test_lora_paper_table4_gpt3_trainable_parameters(rank, published):
    """Hu et al. 2021, Table 4: LoRA on GPT-3 175B's W_q and W_v trains 4.7M (r=1) and 37.7M (r=8)
    parameters."""
    plan = plan_finetune(
        "gpt3-175b",
        tokens=1e6,
        accelerator="A100-80GB",
        devices=64,
        lora_rank=rank,
        lora_targets="q,v",
        seq_len=2048,
        global_batch=64,
    )
    assert plan.trainable_params == pytest.approx(published, rel=0.01)


def test_lora_paper_gpt3_speedup_is_within_the_flops_saved():
    """Hu et al. 2021, §4.2: "a 25% speedup during training on GPT-3 175B compared to full fine-tuning" (r=4
    on W_q, W_v). Skipping the frozen weights' gradients saves a third of the FLOPs (6N -> 4N), an upper bound
    on the speedup that a measured 1.25x must sit under, and close to it."""
    spec = load_model("gpt3-175b")
    adapters = estimate_memory(
        spec, workload=Workload.of(micro_batch=0, lora_rank=4, lora_targets="q,v"), mode="finetune"
    ).trainable_params
    ratio = model_flops_per_token(finetune_flops_per_token(spec, full=True)) / model_flops_per_token(
        finetune_flops_per_token(spec, adapter_params=adapters)
    )
    assert 1.25 <= ratio <= 1.5


def test_torchtune_readme_lora_speedup_is_within_the_flops_saved():
    """torchtune README, "Optimization flags" (Llama 3.2 3B, A100, batch 2 x 4096, bf16, activation
    checkpointing): full fine-tuning 6960 tokens/s (with 8-bit AdamW), LoRA 8210 tokens/s, 1.18x. At the same
    MFU the plans predict the model-FLOP ratio less what recomputing both costs: above 1.18x, under 1.5x."""
    from scaling.model import spec_from_hf_config

    spec = spec_from_hf_config(
        dict(
            model_type="llama",
            hidden_size=3072,
            intermediate_size=8192,
            num_hidden_layers=28,
            num_attention_heads=24,
            num_key_value_heads=8,
            vocab_size=128256,
            tie_word_embeddings=True,
            max_position_embeddings=131072,
        ),
        name="llama-3.2-3b",
    )
    kwargs = dict(tokens=1e7, accelerator="A100-80GB", seq_len=4096, global_batch=2, recompute="full")
    lora = plan_finetune(
        spec, lora_rank=64, lora_targets="q,v,o,gate,up,down", **kwargs
    )  # torchtune's 3B config
    full = plan_finetune(spec, **kwargs)
    assert lora.fits and full.fits
    predicted = lora.tokens_per_s / full.tokens_per_s
    assert 8210 / 6960 <= predicted <= full.flops / lora.flops <= 1.5


def test_qlora_step_takes_the_stated_factor_longer():
    """Google Cloud Vertex AI: "LoRA is about 66% faster than QLoRA": by default QLoRA reaches 1/1.66 of
    LoRA's MFU, so the same layout takes 1.66x the time; at a given end-to-end MFU both take the same
    time and QLoRA's kernels work 1.66x harder."""
    lora = plan_finetune("llama-2-7b", tokens=1e8, accelerator="H200", lora_rank=16, seq_len=1024)
    qlora = plan_finetune(
        "llama-2-7b", tokens=1e8, accelerator="H200", lora_rank=16, quant="nf4", seq_len=1024
    )
    assert {k: lora.layout[k] for k in LAYOUT_KEYS} == {k: qlora.layout[k] for k in LAYOUT_KEYS}
    assert qlora.seconds / lora.seconds == pytest.approx(QUANT_TIME_FACTOR)
    assert qlora.mfu == pytest.approx(lora.mfu / QUANT_TIME_FACTOR)
    assert qlora.flops == pytest.approx(lora.flops)  # same model FLOPs, lower MFU
    given = dict(tokens=1e8, accelerator="H200", lora_rank=16, seq_len=1024, mfu=0.3)
    same = [plan_finetune("llama-2-7b", **given, quant=q) for q in (None, "nf4")]
    assert same[1].seconds == pytest.approx(same[0].seconds)
    assert same[1].layout["kernel_efficiency"] / same[0].layout["kernel_efficiency"] > 1.6
    assert qlora.memory.weights_bytes < lora.memory.weights_bytes
    assert any("66% faster" in n for n in qlora.notes)
    measured = plan_finetune(
        "llama-2-7b",
        tokens=1e8,
        accelerator="H200",
        lora_rank=16,
        quant="nf4",
        seq_len=1024,
        quant_time_factor=1.28,
    )
    assert measured.seconds / lora.seconds == pytest.approx(1.28)
    assert any("1.28x" in n and "given" in n for n in measured.notes)


@pytest.mark.parametrize("lora_rank", [None, 16])
def test_chosen_recompute_is_hardware_flops_only(lora_rank):
    kwargs = dict(tokens=1e8, accelerator="H100-SXM", devices=8, lora_rank=lora_rank, seq_len=2048)
    free = plan_finetune("llama-2-7b", recompute="none", **kwargs)
    full = plan_finetune("llama-2-7b", recompute="full", **kwargs)
    assert full.layout["recompute"] == "full" and free.layout["recompute"] == "none"
    assert full.flops == pytest.approx(free.flops)  # MFU's model FLOPs never include recomputation
    assert full.hardware_flops - full.flops == pytest.approx(
        full.trained_tokens * full.flops_terms["recompute"]
    )
    assert full.flops_terms["recompute"] > 0.3 * full.flops_terms["forward"]
    assert full.memory.activations_bytes < free.memory.activations_bytes


def test_time_cost_and_throughput_agree():
    plan = plan_finetune(
        "llama-2-7b",
        tokens=2e8,
        accelerator="A100-80GB",
        devices=2,
        lora_rank=8,
        price_usd_per_hour=2.0,
        seq_len=2048,
    )
    assert plan.seconds == pytest.approx(plan.trained_tokens / plan.tokens_per_s)
    assert plan.gpu_hours == pytest.approx(plan.seconds * 2 / 3600)
    assert plan.cost_usd == pytest.approx(plan.gpu_hours * 2.0)
    assert plan.days == pytest.approx(plan.seconds / 86400)
    # one MFU: the time is model FLOPs / (devices x peak x MFU)
    assert plan.seconds == pytest.approx(plan.flops / (2 * 312e12 * plan.mfu), rel=1e-9)
    d = plan.to_dict()
    assert set(JSON_KEYS) <= set(d)
    assert {"fits", "total_bytes"} <= set(d["memory"])


def test_defaults_state_a_capped_sequence_and_the_convention_caveats():
    plan = plan_finetune("llama-3.1-405b", tokens=1e7, accelerator="H100-SXM", devices=32, lora_rank=16)
    assert plan.seq_len == 4096 < load_model("llama-3.1-405b").n_ctx
    assert plan.global_batch == 32 and plan.fits and plan.layout["zero"] == 3  # the base sharded (FSDP)
    t5 = plan_finetune("t5-3b", tokens=1e7, accelerator="A100-80GB", lora_rank=8, lora_targets="q,v")
    assert any("encoder-decoder" in w for w in t5.warnings)  # training_flops' own 6ND caveat


def test_plans_display_every_value_in_a_notebook():
    from scaling.render import Displayable, exact_text

    plan = plan_finetune(
        "llama-2-7b", tokens=1e8, accelerator="A100-80GB", lora_rank=16, price_usd_per_hour=2.0
    )
    cpt = plan_continued_pretraining("llama-2-7b", unique_tokens=5e9, accelerator="H100-SXM", devices=8)
    for result in (plan, cpt):
        assert isinstance(result, Displayable)
        html, markdown = result._repr_html_(), result._repr_markdown_()
        for value in (result.to_dict()["flops"], result.to_dict()["memory"]["total_bytes"]):
            assert exact_text(value) in html and exact_text(value) in markdown
        assert result.to_series()["seconds"] == pytest.approx(result.to_dict()["seconds"])
        for table in result.display_tables():  # the CLI's own tables, shown first
            assert table.title in html and all(row[0] in markdown for row in table.rows)


def test_bad_plan_inputs_name_the_value():
    with pytest.raises(ScalingError, match="needs LoRA"):
        plan_finetune("llama-2-7b", tokens=1e8, accelerator="H100-SXM", quant="nf4")
    with pytest.raises(ScalingError, match="not divisible by the 3 devices"):
        plan_finetune("llama-2-7b", tokens=1e8, accelerator="H100-SXM", devices=3, global_batch=16)
    with pytest.raises(ScalingError, match="token count"):
        plan_finetune("llama-2-7b", tokens=0, accelerator="H100-SXM")
    with pytest.raises(ScalingError, match="LoRA rank"):
        plan_finetune("llama-2-7b", tokens=1e8, accelerator="H100-SXM", lora_rank=0)


@settings(max_examples=15, deadline=None)
@given(
    tokens=st.one_of(st.floats(-1e3, 1e16), st.just(math.nan), st.just(math.inf)),
    epochs=st.one_of(st.floats(-1.0, 1e3), st.just(math.nan)),
    mfu=st.one_of(st.floats(-0.5, 1.5), st.just(math.nan)),
    rank=st.one_of(st.none(), st.integers(-2, 512)),
    seq=st.integers(-8, 1 << 20),
)
def test_plan_inputs_give_a_plan_or_a_scaling_error(tokens, epochs, mfu, rank, seq):
    try:
        plan = plan_finetune(
            "llama-2-7b",
            tokens=tokens,
            epochs=epochs,
            mfu=mfu,
            lora_rank=rank,
            seq_len=seq,
            accelerator="H100-SXM",
        )
    except ScalingError:
        return
    assert plan.seconds > 0 and math.isfinite(plan.seconds) and plan.flops > 0


# ------------------------------------------------------------------------------ continued pretraining
def test_continued_pretraining_values_repeats_with_the_data_constrained_law():
    plan = plan_continued_pretraining(
        "llama-2-7b", unique_tokens=5e9, epochs=2, accelerator="H100-SXM", devices=64
    )
    law = get_law("muennighoff")
    assert plan.domain_tokens == pytest.approx(1e10)
    assert plan.tokens == pytest.approx(1e10 / 0.95)  # 5% general data replayed (Ibrahim et al. 2024)
    assert plan.general_tokens == pytest.approx(plan.tokens * 0.05)
    assert plan.effective_domain_tokens == pytest.approx(float(effective_data(1e10, 5e9, law.R_D_star)))
    assert 0.9 < plan.repeat_value < 1.0  # two epochs are worth nearly as much as fresh data
    assert plan.training.flops == pytest.approx(training_flops(load_model("llama-2-7b"), plan.tokens).flops)
    assert plan.warnings == []
    assert plan.training.global_batch * plan.training.seq_len >= 2**20  # a pretraining batch, B_opt(C)
    assert any("B_opt" in n for n in plan.notes)
    d = plan.to_dict()
    assert (
        d["effective_domain_tokens"] == plan.effective_domain_tokens and d["seconds"] == plan.training.seconds
    )
    assert any("Gururangan" in f for f in d["findings"]) and any("Ibrahim" in f for f in d["findings"])


def test_continued_pretraining_fills_a_deadline_with_the_step_model():
    plan = plan_continued_pretraining(
        "llama-2-7b",
        unique_tokens=5e10,
        seconds=7 * 86400,
        accelerator="H100-SXM",
        devices=64,
        price_usd_per_hour=2.0,
    )
    assert plan.training.seconds == pytest.approx(7 * 86400)
    assert plan.tokens == pytest.approx(7 * 86400 * plan.training.tokens_per_s)
    assert plan.training.cost_usd == pytest.approx(7 * 24 * 64 * 2.0)
    assert any("deadline" in n for n in plan.notes)


def test_continued_pretraining_from_a_budget_and_its_epoch_warning():
    spec = load_model("llama-2-7b")
    flops = training_flops(spec, 1e11).flops
    plan = plan_continued_pretraining(
        spec, unique_tokens=1e10, flops=flops, replay_fraction=0.0, accelerator="H100-SXM", devices=64
    )
    assert plan.tokens == pytest.approx(1e11)
    assert plan.epochs == pytest.approx(10.0)
    assert plan.warnings and "epochs" in plan.warnings[0]
    with pytest.raises(ScalingError, match="not tokens and epochs"):
        plan_continued_pretraining(spec, unique_tokens=1e10, tokens=1e10, epochs=2, accelerator="H100-SXM")
    with pytest.raises(ScalingError, match="not flops and seconds"):
        plan_continued_pretraining(spec, unique_tokens=1e10, flops=1e21, seconds=1e5, accelerator="H100-SXM")
    for law in ("chinchilla", "llama3"):
        with pytest.raises(ScalingError, match="repeated-data constant"):
            plan_continued_pretraining(spec, unique_tokens=1e10, law=law, accelerator="H100-SXM")
    with pytest.raises(ScalingError, match="replay fraction"):
        plan_continued_pretraining(spec, unique_tokens=1e10, replay_fraction=1.0, accelerator="H100-SXM")


# --------------------------------------------------------------------------------------------- CLI
def run(*args):
    return CliRunner().invoke(main, ["finetune", *args])


def test_cli_json_keys():
    r = run(
        "llama-2-7b",
        "--tokens",
        "100M",
        "--lora-rank",
        "16",
        "--gpus",
        "1xA100-80GB",
        "--seq-len",
        "2048",
        "--price",
        "1.5",
        "--json",
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(JSON_KEYS) <= set(d)
    assert d["memory"]["fits"] is True and d["memory"]["total_bytes"] > 0
    assert d["method"] == "lora" and d["cost_usd"] == pytest.approx(d["gpu_hours"] * 1.5)


def test_cli_text_and_continued():
    r = run(
        "llama-65b",
        "--tokens",
        "10M",
        "--quant",
        "nf4",
        "--lora-rank",
        "64",
        "--lora-targets",
        "all",
        "--gpus",
        "1xA100-80GB",
        "--seq-len",
        "512",
    )
    assert r.exit_code == 0, r.output
    for word in ("QLoRA rank 64", "adapters", "fits", "largest micro-batch", "tokens/s", "66% faster"):
        assert word in r.output
    r = run("llama-2-7b", "--continued", "--unique-tokens", "50B", "--gpus", "64xH100-SXM", "--epochs", "2")
    assert r.exit_code == 0, r.output
    assert "continued pretraining" in r.output.lower() and "Gururangan" in r.output
    r = run(
        "llama-2-7b",
        "--continued",
        "--unique-tokens",
        "5B",
        "--gpus",
        "64xH100-SXM",
        "--days",
        "2d",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["seconds"] == pytest.approx(2 * 86400)


@pytest.mark.parametrize(
    "args",
    [
        ("llama-2-7b", "--tokens", "1M", "--quant", "nf4", "--gpus", "1xH100-SXM"),
        ("llama-2-7b", "--tokens", "1M", "--full", "--lora-rank", "8", "--gpus", "1xH100-SXM"),
        ("llama-2-7b", "--tokens", "1M", "--gpus", "8"),
        ("llama-2-7b", "--gpus", "1xH100-SXM"),
        ("llama-2-7b", "--continued", "--gpus", "8xH100-SXM"),
        ("llama-2-7b", "--tokens", "1M", "--unique-tokens", "1B", "--gpus", "8xH100-SXM"),
        ("llama-2-7b", "--tokens", "-5", "--gpus", "1xH100-SXM"),
        ("llama-2-7b", "--tokens", "1M", "--days", "3", "--gpus", "8xH100-SXM"),
        (
            "llama-2-7b",
            "--tokens",
            "1M",
            "--lora-rank",
            "8",
            "--quant",
            "nf4",
            "--dequant-factor",
            "-1",
            "--gpus",
            "1xH100",
        ),
        (
            "llama-2-7b",
            "--continued",
            "--unique-tokens",
            "1B",
            "--days",
            "3",
            "--epochs",
            "2",
            "--gpus",
            "8xH100-SXM",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args):
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output


# config.json of bigscience/mt0-large (mT5-large)
MT0_LARGE = dict(
    model_type="mt5",
    d_model=1024,
    d_ff=2816,
    d_kv=64,
    num_heads=16,
    num_layers=24,
    num_decoder_layers=24,
    vocab_size=250112,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
)


def _lora_trainable(spec, targets):
    plan = plan_finetune(
        spec,
        tokens=1e6,
        accelerator="A100-80GB",
        lora_rank=8,
        lora_targets=targets,
        seq_len=64,
        global_batch=8,
    )
    return plan.memory.trainable_params


def test_peft_readme_mt0_large_lora_trainable_parameters():
    """Hugging Face PEFT README: mt0-large with LoRA r=8 on q and v prints "trainable params: 2,359,296"."""
    from scaling.model import spec_from_hf_config

    spec = spec_from_hf_config(MT0_LARGE, name="mt0-large")
    assert _lora_trainable(spec, "q,v") == 2_359_296


@pytest.mark.parametrize(
    ("targets", "blocks"),
    [("q", 24 + 2 * 24), ("o", 24 + 2 * 24), ("up", 48), ("down", 48)],
)
def test_t5_adapter_count_by_layer_type(targets, blocks):
    """T5 encoder layers hold self-attention, decoder layers self- and cross-attention; every layer one FFN:
    an attention target is adapted in 72 blocks of mt0-large, an FFN target in 48 (r x (d_in + d_out))."""
    from scaling.model import spec_from_hf_config

    spec = spec_from_hf_config(MT0_LARGE, name="mt0-large")
    d, f = 1024, 2816
    per_block = {"q": d + d, "o": d + d, "up": d + f, "down": f + d}[targets]
    assert _lora_trainable(spec, targets) == 8 * per_block * blocks
