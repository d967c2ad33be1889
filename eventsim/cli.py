"""Command line: ``eventsim train``, ``eventsim evaluate`` and ``eventsim tune`` (also
``python -m eventsim``).

Examples
--------
Train on noisy XOR with the paper's Boolean defaults (Table 1)::

    eventsim train --task xor --epochs 100 --seed 0 --checkpoint-dir runs/xor --plot

Train to 100% with a real margin between the outputs (8 hidden neurons, a sharp
softmax, up to 5 starts; see ``TrainConfig.boolean_reliable``)::

    eventsim train --task xor --preset boolean-reliable --seed 0

The paper's 2-2-2 network and loop, fixed so that it reaches 100% (its outputs stay
nearly tied; see ``examples/boolean_seeds.md``)::

    eventsim train --task xor --preset boolean-fixed --seed 0

Continue an interrupted run (same command plus ``--resume``)::

    eventsim train --task xor --epochs 100 --seed 0 --checkpoint-dir runs/xor --resume

Train on MNIST (without ``--data-dir`` or ``$EVENTSIM_MNIST``: 4,000 images of the
built-in 5,000-image subset, tested on the other 1,000)::

    eventsim train --task mnist --epochs 5

The same, with every batch spread over the workers of a Dask scheduler (same
result; docs/distributed.md)::

    eventsim train --task mnist --epochs 5 --batch-size 256 --scheduler tcp://host:8786

Evaluate a published reference network on the MNIST test set::

    eventsim evaluate --network slow_network --task mnist --decay-constant 0.181769 \
        --data-dir DIR

Search hyperparameters with Optuna (``pip install "eventsim[tune]"``; docs/tuning.md);
other processes with the same journal file add trials to the same study::

    eventsim tune examples/tune_xor.json --storage runs/xor.journal --study xor --trials 8
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

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

#: Preset name -> TrainConfig class method name.
_PRESETS = {"boolean": "boolean", "boolean-reliable": "boolean_reliable",
            "boolean-fixed": "boolean_fixed",
            "mnist-goltz": "mnist_goltz", "mnist-paper": "mnist_paper", "mnist": "mnist",
            "yin-yang": "yin_yang"}


def _default_preset(task) -> str:
    from .tasks import IMAGE_TASKS

    # The paper's MNIST column (mnist-paper) spends its first epochs at chance on the
    # 4,000-image subset; the default has to learn.
    return ("mnist-goltz" if task in IMAGE_TASKS else
            "yin-yang" if task == "yin-yang" else "boolean")


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


_DATA_DIR_HELP = ("folder with the MNIST / Fashion-MNIST IDX files (t10k-images-idx3-ubyte and "
                  "t10k-labels-idx1-ubyte, plain or .gz; without train-* files MNIST trains "
                  "on the built-in subset); default for MNIST: $EVENTSIM_MNIST, else the "
                  "built-in 5,000-image subset split into 4,000 training and 1,000 held-out "
                  "test images.  A folder given but missing or empty is an error")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventsim`` command."""
    from .tasks import TASKS
    from .train import TrainConfig

    from . import __version__

    boolean, mnist = TrainConfig.boolean(), TrainConfig.mnist_paper()
    fixed = TrainConfig.boolean_fixed()
    parser = argparse.ArgumentParser(
        prog="eventsim",
        description="Event-driven exact simulation and training of spiking networks that "
                    "compute with spike timing (Comsa et al. 2020).")
    parser.add_argument("--version", action="version", version=f"eventsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # -------------------------------------------------------------- train
    tr = sub.add_parser(
        "train", help="train a network on a task",
        description="Train a layered alpha-kernel network on a task.  Hyperparameters not "
                    "given default to the preset: the paper's Boolean defaults (Table 1) for "
                    "xor/and/or/circles, mnist-goltz (784-340-10, learns within an epoch) "
                    "for mnist/fashion-mnist, yin-yang for yin-yang.",
        formatter_class=_Formatter)
    tr.add_argument("--task", required=True, choices=TASKS, metavar="TASK",
                    help="the task to learn: " + ", ".join(TASKS))
    tr.add_argument("--preset", choices=tuple(_PRESETS), default=None,
                    help="hyperparameter preset: boolean (Table 1), boolean-reliable (100%% "
                         "with a real margin between the outputs: " + ", ".join(
                             f"{k}={_fmt_default(v)}" for k, v in TrainConfig.RELIABLE.items())
                         + "; TrainConfig.boolean_reliable), boolean-fixed (the paper's 2-2-2 "
                           "network and loop with " + ", ".join(
                               f"{k}={_fmt_default(v)}" for k, v in TrainConfig.FIXED.items())
                         + "; reaches 100%% but with nearly tied outputs), mnist-goltz (784-340-10 alpha neurons with Göltz et al.'s loss "
                           "and initialisation, TrainConfig.mnist_goltz; reaches about 94%% "
                           "held-out after 5 epochs on the built-in subset), mnist-paper (the "
                           "paper's Table 1 MNIST column, TrainConfig.mnist_paper; on the "
                           "4,000-image subset it stays near chance for its first epochs), "
                           "mnist (the same as mnist-paper), yin-yang (Göltz et al.'s Yin-Yang "
                           "setting); default: mnist-goltz for image tasks, yin-yang for "
                           "yin-yang, boolean otherwise")
    hp = tr.add_argument_group("hyperparameters of Table 1 (default: the preset's value)")
    for name, text in _TABLE1_HELP.items():
        kwargs = {}
        if name == "n_hidden":
            kwargs["type"] = _hidden
        elif name in ("batch_size", "n_pulses"):
            kwargs["type"] = int
        else:
            kwargs["type"] = float
        flags = ["--" + name.replace("_", "-")]
        if name == "learning_rate":
            flags.append("--lr")        # the short name the examples and papers use
        hp.add_argument(*flags, dest=name, default=None, metavar=_METAVARS[name],
                        help=f"{text} [Boolean: {_fmt_default(getattr(boolean, name))}; "
                             f"mnist-paper: {_fmt_default(getattr(mnist, name))}]", **kwargs)
    op = tr.add_argument_group("training")
    op.add_argument("--pulses", choices=("per_network", "per_layer"), default=None,
                    help="one set of pulses for all non-input neurons, or one per layer "
                         "[Boolean: per_network; mnist-paper: per_layer]")
    op.add_argument("--update-on-misclassified-only", dest="update_on_misclassified_only",
                    action=argparse.BooleanOptionalAction, default=None,
                    help="compute updates only from misclassified examples (the reference's "
                         "default; --no-update-on-misclassified-only: from all examples) "
                         "[default: on]")
    op.add_argument("--epochs", type=int, default=None,
                    help="training epochs (per start, see --n-starts and --shared-budget) "
                         "[default: the preset's: 100 Boolean and mnist-paper, 25 "
                         "mnist-goltz, 60 yin-yang]")
    op.add_argument("--seed", type=int, default=0,
                    help="seed of the data, the initial weights and the shuffling")
    op.add_argument("--threads", type=int, default=None,
                    help="engine worker threads (default: all cores; results do not depend "
                         "on it)")
    op.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="spread every batch over the workers of this Dask scheduler (e.g. "
                         "tcp://host:8786); same result as training here.  Needs: pip "
                         "install \"eventsim[dask]\"; docs/distributed.md")
    rel = tr.add_argument_group(
        "reliable training (beyond the paper's loop; default: the preset's value)")
    for name, (text, metavar) in _EXTRA_HELP.items():
        flag = "--" + name.replace("_", "-")
        shown = (f" [Boolean: {_fmt_default(getattr(boolean, name))}; boolean-fixed: "
                 f"{_fmt_default(getattr(fixed, name))}]")
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
    data.add_argument("--data-dir", default=None, metavar="DIR", help=_DATA_DIR_HELP)
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
    out.add_argument("--verbose", action="store_true",
                     help="also print the full configuration (it is always written to "
                          "config.json in --checkpoint-dir)")
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
    ev.add_argument("--data-dir", default=None, metavar="DIR", help=_DATA_DIR_HELP)
    ev.add_argument("--n-test", type=int, default=None,
                    help="test examples (default: 150 for generated tasks, all for images)")
    ev.add_argument("--seed", type=int, default=0, help="seed of generated test data")
    ev.add_argument("--threads", type=int, default=None, help="engine worker threads")
    ev.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="spread the examples over the workers of this Dask scheduler")
    ev.add_argument("--json", action="store_true", help="print the result as JSON")

    # -------------------------------------------------------------- tune
    tu = sub.add_parser(
        "tune", help="search hyperparameters with Optuna",
        description="Run trials of a search space file into an Optuna study kept in a "
                    "journal file; several processes or machines that see the file add "
                    "trials to the same study.  Each trial trains on part of the task's "
                    "training data and is scored on the rest (never on the test set).  "
                    "Prints the best trial and the eventsim train command of its "
                    "configuration.  Needs: pip install \"eventsim[tune]\".  Format: "
                    "docs/tuning.md.",
        formatter_class=_Formatter)
    tu.add_argument("space", metavar="SPACE_FILE",
                    help="search space, JSON or TOML (e.g. examples/tune_xor.json)")
    tu.add_argument("--storage", required=True, metavar="JOURNAL",
                    help="Optuna journal file of the study (created if missing)")
    tu.add_argument("--study", default=None, metavar="NAME",
                    help="study name; an existing study gains trials (default: the space "
                         "file's name without its extension)")
    tu.add_argument("--trials", type=int, default=None, metavar="N",
                    help="trials to run now (default: n_trials of the space file; 0: run "
                         "none, only print the best trial so far)")
    tu.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the trials on the workers of this Dask scheduler (e.g. "
                         "tcp://host:8786), through optuna-integration's DaskStorage; the "
                         "journal file must be at the same path on the scheduler's machine")
    tu.add_argument("--seed", type=int, default=None,
                    help="study seed: trial k trains and samples with seeds derived from it "
                         "and k (default: seed of the space file, else 0)")
    tu.add_argument("--threads", type=int, default=None,
                    help="engine worker threads per trial (results do not depend on it)")
    tu.add_argument("--quiet", action="store_true", help="no line per trial")
    return parser


def _config_from_args(args):
    from .training import TrainConfig

    preset = args.preset or _default_preset(args.task)
    overrides = {}
    for name in (*_TABLE1_HELP, "pulses", "update_on_misclassified_only", *_EXTRA_HELP):
        val = getattr(args, name)
        if val is not None:
            overrides[name] = val
    if overrides.get("clip_derivative") == 0:
        overrides["clip_derivative"] = None
    if overrides.get("min_weight") == "none":
        overrides["min_weight"] = None
    overrides.update(seed=args.seed, n_threads=args.threads)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    return getattr(TrainConfig, _PRESETS[preset])(**overrides)


def _data_line(task, data_dir, n_train, n_test) -> str:
    """What the run trains and tests on, in one line."""
    from .tasks import IMAGE_TASKS, image_data_sources

    if task not in IMAGE_TASKS:
        return f"task {task}: {n_train:,} training and {n_test:,} test examples"
    src = image_data_sources(task, data_dir)
    if src["train"].startswith("the built-in") and src["test"].startswith("the built-in"):
        from .datasets import MNIST_SUBSET_SIZE

        return (f"task {task}: {n_train:,} train / {n_test:,} held-out test images of the "
                f"built-in {MNIST_SUBSET_SIZE:,}-image MNIST subset (MNIST training images; "
                f"--data-dir or $EVENTSIM_MNIST for the MNIST test set)")
    return (f"task {task}: {n_train:,} training images ({src['train']}), {n_test:,} test "
            f"images ({src['test']})")


def _write_config(folder, config, preset):
    from ._atomic import atomic_write

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"preset": preset, **config.to_dict()}, indent=1).encode()
    atomic_write(folder / "config.json", lambda f: f.write(text))
    return folder / "config.json"


def _margin_note(margin) -> str:
    """How to read a training margin (output spike-time lead, in units of 1/tau)."""
    if not np.isfinite(margin) or margin <= 0:
        return "some training example is misclassified"
    if margin < 1e-3:
        return ("the outputs are nearly tied: some decisions hinge on a spike-time "
                "difference this small, so 100% means only that the target output spikes "
                "first, not that the classification is robust")
    return "the target output leads every other output by at least this much"


def _dask_backend(clf, address, command):
    """With ``--scheduler``: connect, and compute ``clf``'s batches on that cluster;
    returns the client (to close) or None."""
    if address is None:
        return None
    from . import distributed

    try:
        client = distributed.connect(address)
    except ImportError as exc:
        raise SystemExit(f"eventsim {command}: error: {exc}") from None
    clf.backend = distributed.DaskBackend(client)
    return client


def _cmd_train(args) -> int:
    from .tasks import make_task, n_outputs_of
    from .training import SpikingClassifier

    config = _config_from_args(args)
    preset = args.preset or _default_preset(args.task)
    if args.resume is not None and args.resume == "auto" and args.checkpoint_dir is None:
        raise SystemExit("eventsim train: --resume without FILE needs --checkpoint-dir")
    if args.resume not in (None, "auto") and pathlib.Path(args.resume).is_dir():
        raise ValueError(f"--resume {args.resume} is a folder, not a checkpoint file (pass "
                         f"the folder as --checkpoint-dir together with --resume, or the "
                         f"file {pathlib.Path(args.resume) / 'checkpoint.npz'})")
    X_train, y_train, X_test, y_test = make_task(
        args.task, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
        data_dir=args.data_dir)
    config = config.replace(n_outputs=n_outputs_of(args.task))
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(_data_line(args.task, args.data_dir, len(y_train), len(y_test)))
    where = ""
    if args.checkpoint_dir is not None:
        where = f"; all options in {_write_config(args.checkpoint_dir, config, preset)}"
    say(f"preset {preset}: hidden {','.join(map(str, config.n_hidden)) or 'none'}, "
        f"batch {config.batch_size}, learning rate {config.learning_rate:g}, "
        f"{config.epochs} epochs{' per start' if config.n_starts > 1 else ''}{where}")
    if args.verbose and not args.quiet:
        print("config: " + json.dumps(config.to_dict()), flush=True)
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
    client = _dask_backend(clf, args.scheduler, "train")
    resume = False
    if args.resume is not None:
        resume = "auto" if args.resume == "auto" else args.resume
    clf.fit(X_train, y_train, X_test if has_test else None, y_test if has_test else None,
            checkpoint_dir=args.checkpoint_dir, resume=resume, callback=report)
    h = clf.history_
    result = {"epochs_trained": clf.n_epochs_}
    selected = config.select_best or config.n_starts > 1
    if h["epoch"] and not selected:
        result.update(train_accuracy=h["train_accuracy"][-1], loss=h["loss"][-1])
        if has_test:
            result.update(test_accuracy=h["test_accuracy"][-1], test_loss=h["test_loss"][-1])
    elif h["epoch"]:
        # The network kept is not necessarily the last epoch's: evaluate it.
        sel = clf.selection_
        n_run = len(clf.starts_)
        starts = (f"start {sel['start'] + 1} ({n_run} of up to {config.n_starts} starts run), "
                  if config.n_starts > 1 else "")
        margin = sel["train_margin"]
        say(f"kept: {starts}epoch {sel['start_epoch']} of its {clf.starts_[sel['start']]['epochs']}"
            f"; training margin {margin:.3g} (smallest lead of the target output's spike over "
            f"the others, in units of 1/decay constant): {_margin_note(margin)}")
        result = {"epochs_trained": clf.n_epochs_, "kept_epoch": sel["epoch"]}
        tr = clf.evaluate(X_train, y_train)
        result.update(train_accuracy=tr["accuracy"], loss=tr["loss"],
                      train_margin=tr["margin"])
        if has_test:
            te = clf.evaluate(X_test, y_test)
            result.update(test_accuracy=te["accuracy"], test_loss=te["loss"])
    if client is not None:
        client.close()
    print("final: " + "  ".join(f"{k} {v:.4g}" if k == "train_margin" else
                                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
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


#: First bytes of a zip archive (numpy .npz files, eventsim checkpoints).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _network_kind(path: pathlib.Path) -> str:
    """``"checkpoint"`` or ``"ihmehimmeli"``, from the file's first bytes; raises
    ValueError naming what is wrong with ``path`` otherwise."""
    if path.is_dir():
        hint = ""
        if (path / "checkpoint.npz").is_file():
            hint = f" (did you mean {path / 'checkpoint.npz'}?)"
        raise ValueError(f"--network {path} is a folder, not a network file{hint}")
    if not path.exists():
        raise FileNotFoundError(f"network file {path} not found")
    with open(path, "rb") as f:
        head = f.read(6)
    if not head:
        raise ValueError(f"network file {path} is empty")
    if head[:4] in _ZIP_MAGIC or path.suffix == ".npz":
        return "checkpoint"
    if head.startswith(b"\x93NUMPY"):
        raise ValueError(f"{path} is a single numpy array (.npy), not a network: pass an "
                         "eventsim checkpoint (.npz) or an ihmehimmeli network file")
    return "ihmehimmeli"


def _cmd_evaluate(args) -> int:
    from .tasks import IMAGE_TASKS, make_task, n_outputs_of
    from .training import SpikingClassifier, TrainConfig

    path = pathlib.Path(args.network)
    if _network_kind(path) == "checkpoint":
        clf = SpikingClassifier.load(path)
        kind = "eventsim checkpoint"
    else:
        from .io import load_ihmehimmeli

        decay = args.decay_constant
        if decay is None:
            decay = (TrainConfig.mnist_paper() if args.task in IMAGE_TASKS
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
    client = _dask_backend(clf, args.scheduler, "evaluate")
    stats = clf.evaluate(X, y)
    if client is not None:
        client.close()
    stats = {"network": str(path), "kind": kind, "task": args.task, **stats}
    if args.json:
        print(json.dumps(stats))
    else:
        print(f"{path} ({kind}) on {args.task}: {stats['n']} examples")
        if args.task in IMAGE_TASKS:
            from .tasks import image_data_sources

            print(f"test images: {image_data_sources(args.task, args.data_dir)['test']}")
        print(f"accuracy {stats['accuracy']:.4f}  loss {stats['loss']:.4f}  "
              f"mean first output spike {stats['first_output_time']:.4f}  "
              f"mean hidden spike {stats['hidden_time']:.4f}  "
              f"silent hidden {stats['hidden_silent']:.3f}  margin {stats['margin']:.3g}")
    return 0


def _cmd_tune(args) -> int:
    from . import tuning

    if tuning.optuna is None:
        print(f"eventsim tune: error: hyperparameter search needs optuna: "
              f"{tuning.TUNE_EXTRA}", file=sys.stderr)
        return 2
    space = tuning.load_space(args.space)
    study_name = args.study or pathlib.Path(args.space).stem
    if args.trials is not None and args.trials < 0:
        raise ValueError(f"--trials must be >= 0, got {args.trials}")
    if not args.quiet:
        print(f"study {study_name} in {args.storage}: task {space.task}, preset "
              f"{space.preset}, {space.objective} ({space.direction}) on "
              f"{space.validation_fraction:g} of the training data, searching "
              f"{', '.join(space.params) or 'nothing'}", flush=True)
    tuning.optuna.logging.set_verbosity(tuning.optuna.logging.WARNING)

    def report(study, trial):
        if trial.state.name == "COMPLETE":
            what = f"{space.objective} {trial.value:.4f}"
        elif trial.state.name == "PRUNED":
            what = f"pruned at epoch {trial.last_step}"
        else:
            what = trial.state.name.lower()
        print(f"trial {trial.number}: {what}  {json.dumps(trial.params)}", flush=True)

    try:
        study = tuning.tune(space, args.storage, study_name, n_trials=args.trials,
                            seed=args.seed, scheduler=args.scheduler, n_threads=args.threads,
                            callbacks=None if args.quiet or args.scheduler else [report])
    except ImportError as exc:
        print(f"eventsim tune: error: {exc}", file=sys.stderr)
        return 2
    states = [t.state.name for t in study.trials]
    print(f"study {study_name}: {len(states)} trials ({states.count('COMPLETE')} complete, "
          f"{states.count('PRUNED')} pruned, {states.count('FAIL')} failed)")
    if states.count("COMPLETE") == 0:
        print("no complete trial yet")
        return 0
    best = study.best_trial
    print(f"best trial {best.number}: {space.objective} {best.value:.4f} (seed "
          f"{best.user_attrs.get('seed')})")
    for name, value in best.params.items():
        print(f"  {name} = {value}")
    command, missing = tuning.train_command(tuning.best_config(study), space)
    print(f"train it: {command}")
    if missing:
        print("  (eventsim train has no option for " + ", ".join(
            f"{k}={v!r}" for k, v in missing.items()) + "; use TrainConfig in Python: "
            "eventsim.tuning.best_config)")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``eventsim`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "tune":
            return _cmd_tune(args)
        return _cmd_evaluate(args)
    except (OSError, ValueError) as exc:
        # OSError covers FileNotFoundError, IsADirectoryError, PermissionError.
        text = str(exc) if not isinstance(exc, OSError) or not exc.filename else \
            f"{exc.filename}: {exc.strerror}"
        print(f"eventsim {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
