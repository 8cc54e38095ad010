"""``dlmctl infill``: fill the blanks of a sentence, keeping its known words (needs dlmctl-infill)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dlmctl import defaults
from dlmctl.cli import app
from dlmctl.cli.common import open_model, parse_assignment, parse_weights, print_json, show_plugin_warnings
from dlmctl.errors import PluginError, UsageError
from dlmctl.plugins import get_host

Opt = typer.Option


@app.command("infill")
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
    try:
        from dlmctl_infill.fill import infill
    except ImportError:
        raise PluginError("infilling needs the dlmctl-infill plugin: dlmctl install dlmctl-infill") from None
    mbr, candidates = _selection(mbr, candidates)
    controls = dict(parse_assignment(c, "--control") for c in control or [])
    weights = parse_weights(weight or [])
    from dlmctl.api import check_sampling
    from dlmctl.sampling import SamplerConfig

    lm = open_model(model, device)
    check_sampling(lm, steps, temperature)
    show_plugin_warnings()
    results = infill(lm, [template], n, mbr=mbr, candidates=candidates, controls=controls, weights=weights,
                     sampler=SamplerConfig(steps=steps, temperature=temperature), seed=seed, batch_size=batch_size,
                     show_progress=not as_json, host=get_host())[0]
    for i, result in enumerate(results):
        if as_json:
            print_json({"template": template, "sample": i, "text": result.text, "fills": result.fills,
                        "layout": result.layout})
        else:
            print(result.text)


def _selection(mbr: int | None, candidates: int | None) -> tuple[int, int]:
    """(mbr, candidates) for :func:`dlmctl_infill.fill.infill`: MBR over 4 samples unless told
    otherwise (it filled blanks closest to the reference: benchmarks/results/infill.md)."""
    if mbr is not None and candidates is not None and mbr > 1 and candidates > 1:
        raise UsageError(f"--mbr {mbr} and --candidates {candidates} are two ways of choosing among "
                         "samples; give one of them")
    if candidates is not None and mbr is None:
        return 1, candidates
    return (4 if mbr is None else mbr), (candidates or 1)
