"""``dlmctl infill``: fill the blanks of a sentence, keeping its known words. The plugin contributes
it through the ``register_commands`` hook, as any plugin can add a command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dlmctl import defaults
from dlmctl.cli.common import open_model, parse_controls, parse_weights, print_json, show_plugin_warnings
from dlmctl.plugins import get_host

Opt = typer.Option


def infill_command(
    template: Annotated[str, typer.Argument(help="Sentence with blanks: ___ one word, \\[n] n words, \\[a-b] a to b words, \\[*] any number.")],
    model: Annotated[Optional[str], Opt(help="Model directory or installed model name (default: the bundled model).")] = None,
    n: Annotated[int, Opt("-n", "--num", help="Sentences to return.")] = 5,
    mbr: Annotated[Optional[int], Opt(help="Minimum Bayes risk: keep the consensus (highest mean BLEU to the others) of N samples per sentence (default: 4, unless --candidates is given).")] = None,
    candidates: Annotated[Optional[int], Opt(help="Instead of --mbr: keep the one of N samples the model finds most likely (lowest denoising loss). --candidates 1 is fastest.")] = None,
    control: Annotated[Optional[list[str]], Opt("--control", "-c", help="NAME=TARGET: another control to compose with; repeatable.")] = None,
    weight: Annotated[Optional[list[str]], Opt("--weight", help="NAME=λ: fluency weight of a control.")] = None,
    steps: Annotated[int, Opt(help="Sampling steps (respaced from the model's diffusion steps).")] = defaults.STEPS,
    temperature: Annotated[float, Opt(help="Noise scale per sampling step: lower is more fluent and less "
                                      "varied, 1 is the exact sampler.")] = defaults.TEMPERATURE,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    batch_size: Annotated[int, Opt(help="Sentences sampled together.")] = defaults.BATCH_SIZE,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="One JSON object per line: text, the words of each blank, the sizes used.")] = False,
) -> None:
    """Fill the blanks of TEMPLATE; every known word appears verbatim in every output."""
    controls = parse_controls(control or [])
    weights = parse_weights(weight or [])
    from dlmctl.api import Model
    from dlmctl_infill.fill import selection

    selection(mbr, candidates)                 # conflicting options fail before the model loads
    lm = open_model(model, device)
    show_plugin_warnings()
    samples = Model(lm, get_host()).infill(template, n=n, seed=seed, controls=controls, steps=steps,
                                           temperature=temperature, mbr=mbr, candidates=candidates,
                                           weights=weights, batch_size=batch_size, show_progress=not as_json)
    for sample in samples:
        if as_json:
            print_json({"template": template, "sample": sample.sample_index, "text": sample.text,
                        "fills": sample.fills, "layout": sample.controls["infill"]})
        else:
            print(sample.text)
