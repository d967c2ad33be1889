"""Command line: ``eventsim train`` and ``eventsim evaluate`` (also ``python -m eventsim``).

Examples
--------
Train on noisy XOR with the paper's Boolean defaults (Table 1)::

    eventsim train --task xor --epochs 100 --seed 0 --checkpoint-dir runs/xor --plot

Train so that 100% is reached reliably (learning rate 0.01, non-negative weights, up to
5 starts, margin refinement; see ``examples/boolean_seeds.md``)::

    eventsim train --task xor --preset boolean-reliable --seed 0

Continue an interrupted run (same command plus ``--resume``)::

    eventsim train --task xor --epochs 100 --seed 0 --checkpoint-dir runs/xor --resume

Evaluate a published reference network on the MNIST test set::

    eventsim evaluate --network slow_network --task mnist --decay-constant 0.181769
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import zipfile

import numpy as np

__all__ = ["main", "build_parser"]

_TABLE1_HELP = {
    "batch_size": "examples per mini-batch (one Adam update per batch)",
    "clip_derivative": "clip every local spike-time derivative to [-C, C] (0: no clipping)",
    "decay_constant": "decay rate tau of the alpha kernel t*exp(-tau*t)",
    "fire_threshold": "firing threshold theta",
    "learning_rate": "Adam learning rate of the weights",
    "learning_rate_pulses": "Adam learning rate of the pulse times",
    "n_hidden": "hidden layer sizes, comma-separated (e.g. 340 or 100,50; 0 or '' for none)",
    "n_pulses": "synchronisation pulses per set",
    "nonpulse_init_multiplier": "mean of the initial non-pulse weights, in Glorot std units",
    "penalty_no_spike": "derivative penalty raising the incoming weights of silent neurons",
    "pulse_init_multiplier": "mean of the initial pulse weights, in Glorot std units",
}


_METAVARS = {"batch_size": "N", "clip_derivative": "C", "decay_constant": "TAU",
             "fire_threshold": "THETA", "learning_rate": "LR", "learning_rate_pulses": "LR",
             "n_hidden": "SIZES", "n_pulses": "N", "nonpulse_init_multiplier": "M",
             "penalty_no_spike": "P", "pulse_init_multiplier": "M"}


class _Formatter(argparse.HelpFormatter):
    """Shows a default only where there is a meaningful one and the help text does
    not already say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and not any(action.default is v for v in (None, False, True))
                and action.default is not argparse.SUPPRESS and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _hidden(text):
    text = str(text).strip()
    if text in ("", "0", "none"):
        return ()
    try:
        sizes = tuple(int(s) for s in text.replace(" ", ",").split(",") if s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid layer sizes {text!r} (use e.g. 340 or 100,50)")
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


#: Training options beyond Table 1: (help, metavar or None for an on/off flag).
_EXTRA_HELP = {
    "min_weight": ("lower bound of every weight, applied at initialisation and after every "
                   "update (0: non-negative weights; 'none': no bound)", "W"),
    "update_margin": ("with misclassified-only updates, also update on correct examples whose "
                      "target output leads by less than this (time units; 0: the paper)", "M"),
    "margin_refinement": ("use --update-margin only after the first epoch with 100%% training "
                          "accuracy, for the rest of the budget", None),
    "select_best": ("keep the network of the epoch with the best training accuracy, then "
                    "training margin (default: the last epoch's)", None),
    "early_stop": ("stop (the current start) after an epoch without any update", None),
    "n_starts": ("independent starts (initialisation and shuffling); the first to classify "
                 "the training set, else the best by training accuracy, is kept", "N"),
    "start_patience": ("with several starts, end a start that has not classified the training "
                       "set after this many of its epochs", "E"),
    "shared_budget": ("--epochs is the budget of all starts together, not of each start", None),
}

_PRESETS = ("boolean", "boolean-reliable", "mnist", "mnist-goltz", "yin-yang")


def _optional_float(text):
    text = str(text).strip().lower()
    if text in ("none", "null", ""):
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r} (or 'none')") from None


def _fmt_default(value):
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return repr(value) if isinstance(value, str) else str(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventsim`` command."""
    from .tasks import TASKS
    from .train import TrainConfig

    boolean, mnist = TrainConfig.boolean(), TrainConfig.mnist()
    reliable = TrainConfig.boolean_reliable()
    parser = argparse.ArgumentParser(
        prog="eventsim",
        description="Event-driven exact simulation and training of spiking networks that "
                    "compute with spike timing (Comsa et al. 2020).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # -------------------------------------------------------------- train
    tr = sub.add_parser(
        "train", help="train a network on a task",
        description="Train a layered alpha-kernel network on a task.  Hyperparameters not "
                    "given default to the preset: the paper's Boolean defaults (Table 1) for "
                    "xor/and/or/circles, its MNIST values for mnist/fashion-mnist.",
        formatter_class=_Formatter)
    tr.add_argument("--task", required=True, choices=TASKS, metavar="TASK",
                    help="the task to learn: " + ", ".join(TASKS))
    tr.add_argument("--preset", choices=_PRESETS, default=None,
                    help="hyperparameter preset: boolean (Table 1), boolean-reliable (Table 1 "
                         "with " + ", ".join(f"{k}={_fmt_default(v)}"
                                             for k, v in TrainConfig.RELIABLE.items())
                         + "), mnist (Table 1, MNIST column), mnist-goltz (784-340-10 with "
                           "Göltz et al.'s loss and initialisation: TrainConfig.mnist_goltz), "
                           "yin-yang (Göltz et al.'s Yin-Yang setting); default: mnist for "
                           "image tasks, yin-yang for yin-yang, boolean otherwise")
    hp = tr.add_argument_group("hyperparameters of Table 1 (default: the preset's value)")
    for name, text in _TABLE1_HELP.items():
        kwargs = {}
        if name == "n_hidden":
            kwargs["type"] = _hidden
        elif name in ("batch_size", "n_pulses"):
            kwargs["type"] = int
        else:
            kwargs["type"] = float
        hp.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                        metavar=_METAVARS[name],
                        help=f"{text} [Boolean: {_fmt_default(getattr(boolean, name))}; "
                             f"MNIST: {_fmt_default(getattr(mnist, name))}]", **kwargs)
    op = tr.add_argument_group("training")
    op.add_argument("--pulses", choices=("per_network", "per_layer"), default=None,
                    help="one set of pulses for all non-input neurons, or one per layer "
                         "[Boolean: per_network; MNIST: per_layer]")
    op.add_argument("--update-on-misclassified-only", dest="update_on_misclassified_only",
                    action=argparse.BooleanOptionalAction, default=None,
                    help="compute updates only from misclassified examples (the reference's "
                         "default; --no-update-on-misclassified-only: from all examples) "
                         "[default: on]")
    op.add_argument("--epochs", type=int, default=100,
                    help="training epochs (per start, see --n-starts and --shared-budget)")
    op.add_argument("--seed", type=int, default=0,
                    help="seed of the data, the initial weights and the shuffling")
    op.add_argument("--threads", type=int, default=None,
                    help="engine worker threads (default: all cores; results do not depend "
                         "on it)")
    rel = tr.add_argument_group(
        "reliable training (beyond the paper's loop; default: the preset's value)")
    for name, (text, metavar) in _EXTRA_HELP.items():
        flag = "--" + name.replace("_", "-")
        shown = (f" [Boolean: {_fmt_default(getattr(boolean, name))}; boolean-reliable: "
                 f"{_fmt_default(getattr(reliable, name))}]")
        if metavar is None:
            rel.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                             default=None, help=text + shown)
        else:
            kind = {"min_weight": _optional_float, "n_starts": int,
                    "start_patience": int}.get(name, float)
            rel.add_argument(flag, dest=name, type=kind, default=None, metavar=metavar,
                             help=text + shown)
    data = tr.add_argument_group("data")
    data.add_argument("--n-train", type=int, default=None,
                      help="training examples (default: 1000 for generated tasks, all for "
                           "images)")
    data.add_argument("--n-test", type=int, default=None,
                      help="test examples (default: 150 for generated tasks, all for images)")
    data.add_argument("--data-dir", default=None,
                      help="folder with the MNIST / Fashion-MNIST IDX files")
    out = tr.add_argument_group("output")
    out.add_argument("--checkpoint-dir", default=None,
                     help="save checkpoint.npz / checkpoint.json there after every epoch")
    out.add_argument("--resume", nargs="?", const="auto", default=None, metavar="FILE",
                     help="continue from the checkpoint in --checkpoint-dir (if there is one), "
                          "or from FILE")
    out.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG",
                     help="save training curves as PNG (default file: "
                          "training_curves.png in --checkpoint-dir or the current folder)")
    out.add_argument("--save-network", default=None, metavar="FILE",
                     help="also save the trained network in the reference's (ihmehimmeli) "
                          "file format")
    out.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bars; print one line per epoch instead")
    out.add_argument("--quiet", action="store_true", help="print only the final result")

    # -------------------------------------------------------------- evaluate
    ev = sub.add_parser(
        "evaluate", help="evaluate a saved network on a task",
        description="Accuracy and loss of a saved network: an eventsim checkpoint (.npz) or "
                    "a network file of the reference implementation (ihmehimmeli).",
        formatter_class=_Formatter)
    ev.add_argument("--network", required=True, metavar="FILE",
                    help="eventsim checkpoint or ihmehimmeli network file")
    ev.add_argument("--task", required=True, choices=TASKS, metavar="TASK",
                    help="the task to evaluate on: " + ", ".join(TASKS))
    ev.add_argument("--decay-constant", type=float, default=None,
                    help="decay constant for an ihmehimmeli file, which does not store it "
                         "[default: the task's preset: 1.0 Boolean, 0.181769 MNIST]")
    ev.add_argument("--fire-threshold", type=float, default=None,
                    help="override the threshold stored in an ihmehimmeli file")
    ev.add_argument("--data-dir", default=None,
                    help="folder with the MNIST / Fashion-MNIST IDX files")
    ev.add_argument("--n-test", type=int, default=None,
                    help="test examples (default: 150 for generated tasks, all for images)")
    ev.add_argument("--seed", type=int, default=0, help="seed of generated test data")
    ev.add_argument("--threads", type=int, default=None, help="engine worker threads")
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _config_from_args(args):
    from .tasks import IMAGE_TASKS
    from .train import TrainConfig

    preset = args.preset or ("mnist" if args.task in IMAGE_TASKS else
                             "yin-yang" if args.task == "yin-yang" else "boolean")
    overrides = {}
    for name in (*_TABLE1_HELP, "pulses", "update_on_misclassified_only", *_EXTRA_HELP):
        val = getattr(args, name)
        if val is not None:
            overrides[name] = val
    if overrides.get("clip_derivative") == 0:
        overrides["clip_derivative"] = None
    if overrides.get("min_weight") == "none":
        overrides["min_weight"] = None
    overrides.update(epochs=args.epochs, seed=args.seed, n_threads=args.threads)
    base = {"boolean": TrainConfig.boolean, "boolean-reliable": TrainConfig.boolean_reliable,
            "mnist": TrainConfig.mnist, "mnist-goltz": TrainConfig.mnist_goltz,
            "yin-yang": TrainConfig.yin_yang}[preset]
    return base(**overrides)


def _cmd_train(args) -> int:
    from .tasks import make_task, n_outputs_of
    from .train import SpikingClassifier

    config = _config_from_args(args)
    if args.resume is not None and args.resume == "auto" and args.checkpoint_dir is None:
        raise SystemExit("eventsim train: --resume without FILE needs --checkpoint-dir")
    X_train, y_train, X_test, y_test = make_task(
        args.task, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
        data_dir=args.data_dir)
    config = config.replace(n_outputs=n_outputs_of(args.task))
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(f"task {args.task}: {len(y_train)} training and {len(y_test)} test examples")
    say("config: " + json.dumps(config.to_dict()))
    has_test = len(y_test) > 0

    def report(clf, e):
        if not args.progress and not args.quiet:
            msg = f"epoch {e['epoch']:4d}"
            if config.n_starts > 1:
                msg = f"start {e['start'] + 1} epoch {e['start_epoch']:4d}"
            msg += f"  loss {e['loss']:.4f}  train acc {e['train_accuracy']:.4f}"
            if has_test:
                msg += f"  test loss {e['test_loss']:.4f}  test acc {e['test_accuracy']:.4f}"
            msg += f"  updates {e['n_updates']}  ({e['time_s']:.1f} s)"
            print(msg, flush=True)
        return False

    clf = SpikingClassifier(config, verbose=args.progress and not args.quiet)
    resume = False
    if args.resume is not None:
        resume = "auto" if args.resume == "auto" else args.resume
    clf.fit(X_train, y_train, X_test if has_test else None, y_test if has_test else None,
            checkpoint_dir=args.checkpoint_dir, resume=resume, callback=report)
    h = clf.history_
    result = {"epochs": clf.n_epochs_}
    selected = config.select_best or config.n_starts > 1
    if h["epoch"] and not selected:
        result.update(train_accuracy=h["train_accuracy"][-1], loss=h["loss"][-1])
        if has_test:
            result.update(test_accuracy=h["test_accuracy"][-1], test_loss=h["test_loss"][-1])
    elif h["epoch"]:
        # The network kept is not necessarily the last epoch's: evaluate it.
        sel = clf.selection_
        say(f"kept: start {sel['start'] + 1} of {len(clf.starts_)}, its epoch "
            f"{sel['start_epoch']} (training margin {sel['train_margin']:.3g})")
        tr = clf.evaluate(X_train, y_train)
        result.update(train_accuracy=tr["accuracy"], loss=tr["loss"])
        if has_test:
            te = clf.evaluate(X_test, y_test)
            result.update(test_accuracy=te["accuracy"], test_loss=te["loss"])
    print("final: " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in result.items()), flush=True)
    if args.save_network:
        from .io import save_ihmehimmeli

        save_ihmehimmeli(clf.network_, args.save_network)
        say(f"network saved to {args.save_network}")
    if args.plot is not None:
        from .plotting import plot_training_curves

        path = pathlib.Path(args.plot) if args.plot else (
            pathlib.Path(args.checkpoint_dir or ".") / "training_curves.png")
        if not h["epoch"]:
            say("no epochs trained: nothing to plot")
        else:
            plot_training_curves(h, path, title=f"{args.task}, seed {args.seed}")
            say(f"training curves saved to {path}")
    return 0


def _cmd_evaluate(args) -> int:
    from .tasks import IMAGE_TASKS, make_task, n_outputs_of
    from .train import SpikingClassifier, TrainConfig

    path = pathlib.Path(args.network)
    if not path.is_file():
        raise SystemExit(f"eventsim evaluate: network file {path} not found")
    if zipfile.is_zipfile(path):
        clf = SpikingClassifier.load(path)
        kind = "eventsim checkpoint"
    else:
        from .io import load_ihmehimmeli

        decay = args.decay_constant
        if decay is None:
            decay = (TrainConfig.mnist() if args.task in IMAGE_TASKS
                     else TrainConfig.boolean()).decay_constant
        net = load_ihmehimmeli(path, decay, threshold=args.fire_threshold)
        clf = SpikingClassifier(network=net)
        kind = f"ihmehimmeli network (decay constant {decay})"
    clf.set_params(n_threads=args.threads)
    if hasattr(clf, "config_"):
        clf.config_ = clf.config_.replace(n_threads=args.threads)
    _, _, X, y = make_task(args.task, n_train=0, n_test=args.n_test, seed=args.seed,
                           data_dir=args.data_dir)
    clf._check_fitted()
    if clf.network_.n_inputs != X.shape[1] or clf._out_ids.size != n_outputs_of(args.task):
        raise SystemExit(f"eventsim evaluate: the network has {clf.network_.n_inputs} inputs "
                         f"and {clf._out_ids.size} outputs; task {args.task} needs "
                         f"{X.shape[1]} and {n_outputs_of(args.task)}")
    stats = clf.evaluate(X, y)
    stats = {"network": str(path), "kind": kind, "task": args.task, **stats}
    if args.json:
        print(json.dumps(stats))
    else:
        print(f"{path} ({kind}) on {args.task}: {stats['n']} examples")
        print(f"accuracy {stats['accuracy']:.4f}  loss {stats['loss']:.4f}  "
              f"mean first output spike {stats['first_output_time']:.4f}  "
              f"mean hidden spike {stats['hidden_time']:.4f}  "
              f"silent hidden {stats['hidden_silent']:.3f}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``eventsim`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _cmd_train(args)
        return _cmd_evaluate(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"eventsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
