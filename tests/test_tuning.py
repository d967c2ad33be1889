"""Hyperparameter search (eventsim.tuning, ``eventsim tune``) on a tiny XOR search space."""

import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from eventsim import cli, tuning  # noqa: E402
from eventsim.tasks import make_task  # noqa: E402
from eventsim.training import TrainConfig  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tune_xor.json"


def tiny_space(**changes):
    """A space whose trials take a few tens of milliseconds."""
    space = {
        "task": "xor", "preset": "boolean-reliable", "n_train": 120,
        "validation_fraction": 0.25, "n_trials": 3, "seed": 0, "n_startup_trials": 2,
        "pruning": {"n_startup_trials": 2, "n_warmup_steps": 1},
        "fixed": {"epochs": 3, "n_starts": 1, "n_threads": 1},
        "params": {
            "learning_rate": {"type": "float", "low": 0.003, "high": 0.1, "log": True},
            "batch_size": {"type": "int", "low": 10, "high": 30, "step": 10},
            "n_hidden": {"type": "categorical", "choices": [[4], [3, 3]]},
        },
    }
    space.update(changes)
    return space


def write_space(tmp_path, data, name="space.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(autouse=True)
def quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


def finished(study):
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]


def test_tiny_study_runs_into_a_journal_file(tmp_path):
    journal = tmp_path / "runs" / "study.journal"  # the folder is created
    space = tuning.parse_space(tiny_space())
    study = tuning.tune(space, journal, "xor", n_trials=4)
    assert journal.stat().st_size > 0
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert len(finished(study)) == 4
    for t in study.trials:
        # Seeds depend on the study seed and the trial number only.
        assert t.user_attrs["seed"] == tuning.trial_seed(0, t.number)
        assert t.user_attrs["config"]["seed"] == t.user_attrs["seed"]
        assert set(t.params) == {"learning_rate", "batch_size", "n_hidden"}
        # One validation score per epoch reached, for the pruner.
        assert sorted(t.intermediate_values)[0] == 1
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert complete and all(0 <= t.value <= 1 for t in complete)
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in complete)


def test_a_second_run_adds_trials_to_the_study(tmp_path):
    journal = tmp_path / "study.journal"
    space = tuning.parse_space(tiny_space())
    tuning.tune(space, journal, "xor", n_trials=2)
    study = tuning.tune(space, journal, "xor", n_trials=2)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    # A storage opened afresh reads the same four trials from the file.
    again = optuna.load_study(study_name="xor", storage=tuning.open_journal(journal))
    assert len(finished(again)) == 4
    assert optuna.get_all_study_names(tuning.open_journal(journal)) == ["xor"]


def test_trials_are_deterministic_given_the_study_seed(tmp_path):
    space = tuning.parse_space(tiny_space())
    runs = [tuning.tune(space, tmp_path / f"{k}.journal", "xor", n_trials=3) for k in "ab"]
    a, b = ([(t.params, t.value, t.state.name) for t in r.trials] for r in runs)
    assert a == b
    other = tuning.tune(space, tmp_path / "c.journal", "xor", n_trials=3, seed=1)
    assert [t.params for t in other.trials] != [p for p, _, _ in a]


def test_two_processes_share_one_journal(tmp_path):
    space = write_space(tmp_path, tiny_space())
    journal = tmp_path / "shared.journal"
    cmd = [sys.executable, "-m", "eventsim", "tune", str(space), "--storage", str(journal),
           "--study", "shared", "--trials", "3", "--quiet"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    study = optuna.load_study(study_name="shared", storage=tuning.open_journal(journal))
    assert sorted(t.number for t in study.trials) == list(range(6))
    assert len(finished(study)) == 6
    # Each trial's seed follows from its number, whichever process ran it.
    assert all(t.user_attrs["seed"] == tuning.trial_seed(0, t.number) for t in study.trials)


def test_best_trial_reproduces_its_value(tmp_path):
    space = tuning.parse_space(tiny_space(pruning=False))
    study = tuning.tune(space, tmp_path / "j.journal", "xor", n_trials=3)
    config = tuning.best_config(study)
    assert config.seed == study.best_trial.user_attrs["seed"]
    assert tuning.evaluate_config(space, config) == study.best_value
    for t in study.trials:  # every trial, not only the best
        cfg = TrainConfig.from_dict(t.user_attrs["config"])
        assert tuning.evaluate_config(space, cfg) == t.value


def test_validation_split_comes_from_the_training_data():
    space = tuning.parse_space(tiny_space())
    X, y, Xv, yv = tuning.validation_split(space)
    assert (len(y), len(yv)) == (90, 30)
    X_all, y_all, _, _ = make_task("xor", n_train=120, n_test=0, seed=0)
    rows = {tuple(r) for r in np.column_stack([X_all, y_all])}
    val = {tuple(r) for r in np.column_stack([Xv, yv])}
    train = {tuple(r) for r in np.column_stack([X, y])}
    # A partition of the training set: the test set is not used.
    assert val | train == rows and not val & train


@pytest.mark.parametrize("change, words", [
    ({"params": {"learning_rat": {"type": "float", "low": 0.1, "high": 1}}},
     ["params", "learning_rat", "learning_rate"]),
    ({"params": {"learning_rate": {"type": "float", "low": 0.1, "high": 0.01}}},
     ["params.learning_rate", "low", "high"]),
    ({"params": {"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}}},
     ["params.learning_rate", "log", "low > 0"]),
    ({"params": {"learning_rate": {"type": "uniform", "low": 0, "high": 1}}},
     ["params.learning_rate", "uniform", "categorical"]),
    ({"params": {"learning_rate": {"type": "float", "low": -1.0, "high": 1}}},
     ["params.learning_rate", "-1.0", ">= 0"]),
    ({"params": {"batch_size": {"type": "float", "low": 1, "high": 5}}},
     ["params.batch_size", "float"]),
    ({"params": {"batch_size": {"type": "int", "low": 1.5, "high": 5}}},
     ["params.batch_size.low", "integer"]),
    ({"params": {"loss": {"type": "categorical", "choices": ["goltz", "mse"]}}},
     ["params.loss", "mse"]),
    ({"params": {"seed": {"type": "int", "low": 0, "high": 5}}}, ["params.seed", "trial"]),
    ({"params": {"n_hidden": {"type": "int", "low": 2, "high": 4, "lo": 1}}},
     ["params.n_hidden", "'lo'"]),
    ({"fixed": {"epochs": -1}}, ["fixed", "epochs"]),
    ({"fixed": {"epoch": 3}}, ["fixed", "epoch", "epochs"]),
    ({"task": "nand"}, ["task", "nand"]),
    ({"objective": "val_loss", "direction": "maximize"}, ["direction", "val_loss"]),
    ({"pruning": {"patience": 2}}, ["pruning", "patience"]),
    ({"validation_fraction": 1.0}, ["validation_fraction"]),
    ({"trials": 3}, ["trials", "n_trials"]),
])
def test_bad_space_files_name_the_file_and_the_field(tmp_path, change, words):
    path = write_space(tmp_path, tiny_space(**change), "bad_space.json")
    with pytest.raises(tuning.SearchSpaceError) as exc:
        tuning.load_space(path)
    text = str(exc.value)
    assert str(path) in text
    for word in words:
        assert word in text, (word, text)


def test_space_file_syntax_errors_and_toml(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"task": "xor",')
    with pytest.raises(tuning.SearchSpaceError, match="broken.json: not valid JSON"):
        tuning.load_space(broken)
    toml = tmp_path / "space.toml"
    toml.write_text('task = "xor"\nn_train = 100\n[fixed]\nepochs = 2\n'
                    '[params.learning_rate]\ntype = "float"\nlow = 0.01\nhigh = 0.1\n'
                    'log = true\n')
    space = tuning.load_space(toml)
    assert space.params["learning_rate"]["log"] is True and space.fixed == {"epochs": 2}
    assert space.preset == "boolean"
    assert tuning.parse_space(space.to_dict()).to_dict() == space.to_dict()
    bad = tmp_path / "bad.toml"
    bad.write_text("task = \n")
    with pytest.raises(tuning.SearchSpaceError, match="bad.toml: not valid TOML"):
        tuning.load_space(bad)


def test_the_example_space_parses_and_runs_a_trial(tmp_path):
    space = tuning.load_space(EXAMPLE)
    assert space.task == "xor" and space.params
    study = tuning.tune(space, tmp_path / "ex.journal", "example", n_trials=1, n_threads=1)
    assert len(finished(study)) == 1


def test_corrupt_journal_is_a_clear_error(tmp_path, capsys):
    journal = tmp_path / "j.journal"
    space = tuning.parse_space(tiny_space())
    tuning.tune(space, journal, "xor", n_trials=1)
    with open(journal, "ab") as f:
        f.write(b"this is not a record\n")
    with pytest.raises(tuning.JournalError, match="line .* is not a journal record"):
        tuning.tune(space, journal, "xor", n_trials=1)
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    rc = cli.main(["tune", str(write_space(tmp_path, tiny_space())), "--storage", str(other),
                   "--study", "s", "--trials", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "notes.txt is corrupt or not an Optuna journal file" in err


def test_a_study_refuses_another_space_or_seed(tmp_path):
    journal = tmp_path / "j.journal"
    tuning.tune(tuning.parse_space(tiny_space()), journal, "xor", n_trials=1)
    changed = tuning.parse_space(tiny_space(fixed={"epochs": 4, "n_starts": 1}))
    with pytest.raises(ValueError, match="another search space .*fixed"):
        tuning.tune(changed, journal, "xor", n_trials=1)
    with pytest.raises(ValueError, match="seed 0, not 5"):
        tuning.tune(tuning.parse_space(tiny_space()), journal, "xor", n_trials=1, seed=5)
    # n_trials may change between runs: it is not part of what a trial does.
    study = tuning.tune(tuning.parse_space(tiny_space(n_trials=9)), journal, "xor",
                        n_trials=1)
    assert len(study.trials) == 2


def test_cli_runs_and_prints_the_train_command(tmp_path, capsys):
    space = write_space(tmp_path, tiny_space(), "xor_space.json")
    journal = tmp_path / "cli.journal"
    assert cli.main(["tune", str(space), "--storage", str(journal), "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("\ntrial ") == 3
    assert "study xor_space: 3 trials" in out and "best trial" in out
    line = next(s for s in out.splitlines() if s.startswith("train it: "))
    argv = line[len("train it: "):].split()
    assert argv[:4] == ["eventsim", "train", "--task", "xor"] and "--seed" in argv
    # The printed command is a valid eventsim train command with the best configuration.
    args = cli.build_parser().parse_args(argv[1:])
    study = optuna.load_study(study_name="xor_space", storage=tuning.open_journal(journal))
    best = tuning.best_config(study)
    got = cli._config_from_args(args)
    for name in ("learning_rate", "batch_size", "n_hidden", "epochs", "n_starts", "seed"):
        assert getattr(got, name) == getattr(best, name), name
    # --trials 0 only reports; a missing study is an error, not a new empty study.
    assert cli.main(["tune", str(space), "--storage", str(journal), "--trials", "0"]) == 0
    assert "best trial" in capsys.readouterr().out
    assert cli.main(["tune", str(space), "--storage", str(journal), "--study", "nope",
                     "--trials", "0"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


def test_train_command_flags_and_missing_options():
    space = tuning.parse_space(tiny_space())
    config = space.config({"n_hidden": (3, 3)}, seed=7).replace(
        select_best=False, lr_decay=0.5, clip_derivative=None)
    command, missing = tuning.train_command(config, space)
    words = command.split()
    assert "--no-select-best" in words and words[words.index("--n-hidden") + 1] == "3,3"
    assert words[words.index("--clip-derivative") + 1] == "0"
    assert words[words.index("--seed") + 1] == "7"
    assert missing == {"lr_decay": 0.5}


def test_missing_optuna_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tuning, "optuna", None)
    with pytest.raises(ImportError, match=r'pip install "eventsim\[tune\]"'):
        tuning.tune(tuning.parse_space(tiny_space()), tmp_path / "j.journal", "xor")
    rc = cli.main(["tune", str(write_space(tmp_path, tiny_space())), "--storage",
                   str(tmp_path / "j.journal")])
    assert rc == 2 and 'eventsim[tune]' in capsys.readouterr().err


def test_dask_workers_share_the_study(tmp_path):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("optuna_integration")
    journal = tmp_path / "dask.journal"
    space = tuning.parse_space(tiny_space())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DaskStorage is marked experimental
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            study = tuning.tune(space, journal, "dask", n_trials=4, scheduler=client)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    # The scheduler wrote the trials to the journal file.
    again = optuna.load_study(study_name="dask", storage=tuning.open_journal(journal))
    assert len(finished(again)) == 4
    assert all(t.user_attrs["seed"] == tuning.trial_seed(0, t.number) for t in again.trials)
