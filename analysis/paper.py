"""The paper's reference values (SPEC §2), printed beside ours and labelled "paper", never in place of ours."""

# Table 1 (percent): MATH pass@1, MATH pass@10, GSM8K pass@1, trainable params on Llama-3-8B.
TABLE1 = {
    ("lora", 64): (14.36, 50.20, 48.38), ("lora", 128): (14.20, 49.60, 50.43), ("lora", 512): (15.72, 55.20, 49.64),
    ("dora", 64): (14.44, 48.80, 45.46), ("dora", 128): (15.18, 53.20, 47.97), ("cera", 64): (16.36, 53.60, 50.27),
}
# Table 3: SlimOrca test PPL at r=128.
TABLE3 = {"cera": 3.81, "parallel": 3.90, "cera_identity": 3.97, "cera_relu": 3.84, "cera_no_dropout": 3.85}
TABLE3_LABELS = {"cera": "full CeRA (SiLU, latent dropout)", "parallel": "(a) module-level parallel adapter",
                 "cera_identity": "(b) activation: identity", "cera_relu": "(b) activation: ReLU",
                 "cera_no_dropout": "(c) no dropout"}
FIG1 = {"lora_plateau": 3.90, "cera_r64": 3.89}
FIG3 = {"lora_er_r512": 60, "cera_er_r512": 330}
BENCH = {"latency_overhead": 1.06, "tokens_per_s": 51}
