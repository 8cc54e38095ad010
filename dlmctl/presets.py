"""Named training presets (``dlmctl train --preset NAME``). A released preset never changes;
new settings get a new name."""

PRESETS: dict[str, dict] = {
    # the bundled default model: sized for CPU training (~1M parameters, fp16 < 5 MB)
    "e2e-small": {"model": {"seq_len": 48, "embed_dim": 16, "hidden": 128, "layers": 4, "heads": 4},
                  "train": {"lr": 1e-3, "warmup": 500, "ema": 0.999, "batch_size": 64, "steps": 10000},
                  "min_count": 3},
    # a paper-sized model for GPUs (the paper's: BERT-base denoiser, 200k steps)
    "e2e": {"model": {"seq_len": 64, "embed_dim": 16, "hidden": 768, "layers": 12, "heads": 12},
            "train": {"lr": 1e-4, "ema": 0.9999, "batch_size": 64, "steps": 200000},
            "min_count": 3},
}
