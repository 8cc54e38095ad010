"""``dlmctl train-control NAME``: train a control's classifier on noisy latents of a model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from dlmctl.cli import app
from dlmctl.cli.common import open_model, print_json, resolve_model_dir, show_plugin_warnings
from dlmctl.errors import UsageError
from dlmctl.plugins import get_host

Opt = typer.Option


@app.command("train-control")
def train_control_command(
    name: Annotated[str, typer.Argument(help="Control whose classifier to train (see `dlmctl plugins`).")],
    data: Annotated[str, Opt(help="Training corpus (the model's, e.g. train.csv); labels come from its annotator.")],
    model: Annotated[Optional[str], Opt(help="Model directory or installed model name (default: the bundled model).")] = None,
    steps: Annotated[int, Opt(help="Optimiser steps.")] = 3000,
    batch_size: Annotated[int, Opt(help="Sentences per step.")] = 64,
    hidden: Annotated[Optional[int], Opt(help="Classifier width (default: the control's, 128).")] = None,
    layers: Annotated[Optional[int], Opt(help="Classifier Transformer layers (default: the control's, 3).")] = None,
    annotator: Annotated[str, Opt(help="Annotator backend giving the labels (pos, tree, span).")] = "spacy",
    seed: Annotated[int, Opt(help="Seed of initialisation, batches, noise and the held-out split.")] = 0,
    lr: Annotated[Optional[float], Opt(help="Peak learning rate (default 2e-3; warm-up, then linear decay).")] = None,
    warm_start: Annotated[bool, Opt("--warm-start", help="Go on training the classifier already saved in the model "
                                    "directory (same architecture and labels; keep its --seed so the held-out "
                                    "sentences stay held out).")] = False,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Train the classifier a control steers with; it is saved in the model directory
    (controls/) and its held-out accuracy per noise level is printed."""
    if steps < 1 or batch_size < 1:
        raise UsageError("--steps and --batch-size must be at least 1")
    if warm_start and (hidden or layers):
        raise UsageError("--warm-start goes on with the saved classifier's size: leave out --hidden and --layers")
    if lr is not None and lr <= 0:
        raise UsageError("--lr must be positive")
    control = get_host().control(name)
    show_plugin_warnings()
    if not control.needs_classifier:
        raise UsageError(f"control '{name}' has no classifier to train: use it directly with "
                         f"`dlmctl generate --control {name}=TARGET`")
    from dlmctl.loop import is_main_process

    model_dir = resolve_model_dir(model)
    lm = open_model(str(model_dir), device)
    metrics = control.train(lm, model_dir, data=data, steps=steps, batch_size=batch_size, hidden=hidden,
                            layers=layers, annotator=annotator, seed=seed, lr=lr, warm_start=warm_start,
                            show_progress=not as_json)
    if not is_main_process():
        return
    if as_json:
        print_json({"control": name, "model": str(model_dir), **metrics})
        return
    print(f"trained the '{name}' classifier ({metrics['steps']} steps, {metrics['seconds']:.0f} s) "
          f"→ {model_dir}/controls/")
    labelled = metrics.get("accuracy_labelled")
    print(f"held-out accuracy ({metrics['valid_sentences']} sentences)"
          + (", and on items other than the background label (null span, absent field):" if labelled else ":"))
    for level, accuracy in metrics["accuracy"].items():
        print(f"  {level:>8}  {accuracy:.3f}" + (f"  {labelled[level]:.3f}" if labelled else ""))
