"""Hyperparameter search with Optuna (``eventsim tune``).

A search space file names a task, the :class:`~eventsim.training.TrainConfig` fields to
search and a distribution for each; :func:`tune` runs trials into a study kept in an
Optuna journal file, which several processes (on one machine, or several machines that
see the file) share by study name, or on Dask workers through optuna-integration's
``DaskStorage``.  Every trial trains on part of the task's *training* data and is
scored on the rest (the held-out validation split); the task's test set is never used.
The format and the command line are described in ``docs/tuning.md``.

Optuna is an optional dependency: ``pip install "eventsim[tune]"``.  For example::

    from eventsim import tuning

    space = tuning.load_space("examples/tune_xor.json")
    study = tuning.tune(space, "runs/xor.journal", "xor", n_trials=8)
    config = tuning.best_config(study)          # the best TrainConfig, seed included
    assert tuning.evaluate_config(space, config) == study.best_value
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
import pathlib
import shlex
import warnings

import numpy as np

try:
    import optuna
except ImportError:  # the extra is optional; every entry point that needs it says so
    optuna = None

__all__ = ["SearchSpace", "SearchSpaceError", "JournalError", "TUNE_EXTRA",
           "load_space", "parse_space", "open_journal", "check_journal", "trial_seed",
           "suggest_config", "validation_split", "evaluate_config", "tune", "best_config",
           "train_command"]

#: What to install for this module.
TUNE_EXTRA = 'pip install "eventsim[tune]"'

#: Objectives: name -> (key of the validation score in the fit history and in
#: ``SpikingClassifier.evaluate``, the only sensible direction).
OBJECTIVES = {"val_accuracy": ("accuracy", "maximize"), "val_loss": ("loss", "minimize")}

#: Fields a search space may not set: the trial sets ``seed``, the task ``n_outputs``.
_RESERVED = {"seed": "each trial's seed is derived from the study seed and the trial number",
             "n_outputs": "it follows from the task"}
#: Fields that change speed only, never results: allowed in ``fixed``, not searched.
_NOT_SEARCHED = {"n_threads", "eval_train"}

_TOP_KEYS = ("task", "preset", "params", "fixed", "objective", "direction", "n_trials",
             "seed", "n_train", "validation_fraction", "data_seed", "data_dir", "pruning",
             "sampler", "n_startup_trials")
_PRUNING_KEYS = ("n_startup_trials", "n_warmup_steps", "interval_steps")
_DIST_KEYS = {"float": ("type", "low", "high", "log", "step"),
              "int": ("type", "low", "high", "log", "step"),
              "categorical": ("type", "choices")}
_SAMPLERS = ("tpe", "random")
# Tags mixed into the seed sequences, so that the streams of trial seeds, sampler seeds
# and the validation split never coincide.
_TRIAL_TAG, _SAMPLER_TAG, _SPLIT_TAG = 13, 14, 15
_ATTR_SPACE, _ATTR_SEED = "eventsim_space", "eventsim_seed"


class SearchSpaceError(ValueError):
    """A search space file (or dict) that cannot be used; the message names the file
    and the field."""


class JournalError(ValueError):
    """A journal file that is not a readable Optuna journal."""


def _require_optuna():
    if optuna is None:
        raise ImportError(f"hyperparameter search needs optuna and optuna-integration: "
                          f"{TUNE_EXTRA}")
    return optuna


# --------------------------------------------------------------------------- the space
@dataclasses.dataclass
class SearchSpace:
    """A parsed, checked search space (see :func:`parse_space` for the keys).

    Attributes
    ----------
    task : str
        One of :data:`eventsim.tasks.TASKS`.
    preset : str
        ``eventsim train --preset`` name whose values the fields not searched or fixed
        keep.
    params : dict
        Field name -> distribution (``{"type": "float", "low", "high", "log", "step"}``,
        the same with ``"int"``, or ``{"type": "categorical", "choices": [...]}``).
    fixed : dict
        Field name -> value, for every trial.
    objective : {"val_accuracy", "val_loss"}
        Scored on the validation split of the training data.
    direction : {"maximize", "minimize"}
    n_trials : int
        Default number of trials of one :func:`tune` call.
    seed : int
        Default study seed.
    n_train : int or None
        Training examples drawn before the validation split (``None``: the task's
        default).
    validation_fraction : float
        Fraction of them held out for the objective.
    data_seed : int
        Seed of the data and of the split (the same for every trial).
    data_dir : str or None
        For the image tasks (as ``eventsim train --data-dir``).
    pruning : dict or None
        ``MedianPruner`` arguments; ``None``: no pruning.
    sampler : {"tpe", "random"}
    n_startup_trials : int or None
        TPE's random start-up trials (``None``: Optuna's default).
    source : str
        Where the space came from (for messages only).
    """

    task: str
    preset: str
    params: dict
    fixed: dict
    objective: str = "val_accuracy"
    direction: str = "maximize"
    n_trials: int = 20
    seed: int = 0
    n_train: int | None = None
    validation_fraction: float = 0.2
    data_seed: int = 0
    data_dir: str | None = None
    pruning: dict | None = dataclasses.field(default_factory=dict)
    sampler: str = "tpe"
    n_startup_trials: int | None = None
    source: str = "<dict>"

    def to_dict(self) -> dict:
        """The space as a JSON-serialisable dict, which :func:`parse_space` reads back.

        Returns
        -------
        dict
        """
        d = dataclasses.asdict(self)
        del d["source"]
        d["pruning"] = False if self.pruning is None else dict(self.pruning)
        return d

    def _identity(self) -> str:
        """What must agree between runs that add trials to one study: everything that
        decides what a trial does (not ``n_trials``, ``seed`` or where it came from)."""
        d = self.to_dict()
        del d["n_trials"], d["seed"]
        return json.dumps(d, sort_keys=True)

    def config(self, values=None, *, seed=0, n_threads=None):
        """The :class:`~eventsim.training.TrainConfig` of a trial.

        Parameters
        ----------
        values : dict, optional
            Searched field -> value (tuples for tuple fields), applied after the
            preset and ``fixed``.
        seed : int, default 0
            The configuration's seed.
        n_threads : int, optional
            Engine threads (results do not depend on it).

        Returns
        -------
        TrainConfig
        """
        from .cli import _PRESETS
        from .tasks import n_outputs_of
        from .training import TrainConfig

        # eval_train only adds measurements on the training set, which the objective
        # does not use; it never changes what is trained.
        options = {"eval_train": False, **self.fixed, **(values or {})}
        options.update(seed=int(seed), n_outputs=n_outputs_of(self.task))
        if n_threads is not None:
            options["n_threads"] = n_threads
        return getattr(TrainConfig, _PRESETS[self.preset])(**options)


def load_space(path) -> SearchSpace:
    """Read a search space file: JSON (``.json``) or TOML (``.toml``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    SearchSpace

    Raises
    ------
    SearchSpaceError
        The file cannot be parsed or describes an invalid space (the message names
        the file and the field).
    FileNotFoundError
        No such file.
    """
    path = pathlib.Path(path)
    text = path.read_bytes()
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            try:
                import tomli as tomllib
            except ImportError:
                raise SearchSpaceError(f"{path}: reading TOML needs Python >= 3.11 or the "
                                       f"tomli package; or write the space as JSON") from None
        try:
            data = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SearchSpaceError(f"{path}: not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SearchSpaceError(f"{path}: not valid JSON: {exc}") from None
    return parse_space(data, source=str(path))


def _fields():
    from .training import TrainConfig

    return {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}


def _unknown(what, name, known, where):
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SearchSpaceError(f"{where}: unknown {what} {name!r}{hint}")


def _number(value, where, integer=False):
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))
    if not ok or (integer and int(value) != value):
        kind = "an integer" if integer else "a finite number"
        raise SearchSpaceError(f"{where} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


def _encode_choice(choice):
    """Optuna's categorical choices must be None, bool, int, float or str: a list (a
    tuple field such as ``n_hidden``) is searched as its JSON text."""
    return json.dumps(choice) if isinstance(choice, list) else choice


def _parse_distribution(name, spec, ftype, where):
    if not isinstance(spec, dict) or "type" not in spec:
        raise SearchSpaceError(f"{where}: a distribution must be a table with a 'type' "
                               f"(float, int or categorical), got {spec!r}")
    kind = spec["type"]
    if kind not in _DIST_KEYS:
        raise SearchSpaceError(f"{where}: unknown distribution type {kind!r} (known: "
                               f"{', '.join(_DIST_KEYS)})")
    for key in spec:
        if key not in _DIST_KEYS[kind]:
            raise _unknown(f"key of a {kind} distribution", key, _DIST_KEYS[kind], where)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SearchSpaceError(f"{where}: 'choices' must be a non-empty list, got "
                                   f"{choices!r}")
        for c in choices:
            if isinstance(c, dict) or (isinstance(c, list) and not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)):
                raise SearchSpaceError(f"{where}: a choice must be a number, string, "
                                       f"true/false, null or a list of numbers, got {c!r}")
        encoded = [_encode_choice(c) for c in choices]
        if len(set(map(json.dumps, encoded))) != len(encoded):
            raise SearchSpaceError(f"{where}: repeated choices in {choices!r}")
        return {"type": kind, "choices": list(choices)}
    integer = kind == "int"
    # Which distributions fit which field: a float range cannot feed an integer field,
    # and only categorical choices can give a string or a flag.  n_hidden takes an int
    # range as the size of its single hidden layer.
    numeric = "float" in ftype or "int" in ftype or name == "n_hidden"
    if not numeric or (kind == "float" and "float" not in ftype):
        raise SearchSpaceError(f"{where}: field {name} ({ftype}) cannot take a {kind} "
                               f"distribution; use {'int or ' if 'int' in ftype else ''}"
                               f"categorical")
    for key in ("low", "high"):
        if key not in spec:
            raise SearchSpaceError(f"{where}: missing {key!r}")
    low = _number(spec["low"], f"{where}.low", integer)
    high = _number(spec["high"], f"{where}.high", integer)
    if low > high:
        raise SearchSpaceError(f"{where}: low ({low}) > high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SearchSpaceError(f"{where}.log must be true or false, got {log!r}")
    step = spec.get("step")
    if step is not None:
        step = _number(step, f"{where}.step", integer)
        if step <= 0:
            raise SearchSpaceError(f"{where}.step must be > 0, got {step}")
        if log and (not integer or step != 1):
            raise SearchSpaceError(f"{where}: 'log' and 'step' cannot be combined"
                                   + ("" if not integer else " (except step 1)"))
    if log and low <= 0:
        raise SearchSpaceError(f"{where}: a log distribution needs low > 0, got {low}")
    out = {"type": kind, "low": low, "high": high, "log": log, "step": step}
    if integer and step is None:
        out["step"] = 1
    return out


def _values_of(spec):
    """Values a distribution can give, for checking them against TrainConfig."""
    if spec["type"] == "categorical":
        return spec["choices"]
    return [spec["low"], spec["high"]]


def _field_value(name, value):
    """A searched value as TrainConfig takes it: lists become tuples, an int n_hidden a
    single hidden layer."""
    if isinstance(value, list):
        return tuple(value)
    if name == "n_hidden" and isinstance(value, int):
        return (value,)
    return value


def parse_space(data, *, source="<dict>") -> SearchSpace:
    """Check a search space given as a dict (the content of a space file).

    Parameters
    ----------
    data : dict
        Keys (only ``task`` and ``params`` are required):

        ``task``
            the task (``eventsim train --task``).
        ``preset``
            ``eventsim train --preset`` name whose values every field not searched
            keeps (default: the task's default preset).
        ``params``
            field -> distribution, for :class:`~eventsim.training.TrainConfig`
            fields: ``{"type": "float", "low": a, "high": b}`` with optional ``"log":
            true`` or ``"step": s``; the same with ``"type": "int"``; or ``{"type":
            "categorical", "choices": [...]}`` (numbers, strings, true/false, null,
            or lists of numbers for tuple fields such as ``n_hidden``).  An int range
            for ``n_hidden`` is the size of one hidden layer.
        ``fixed``
            field -> value for every trial (e.g. ``epochs``).
        ``objective``
            ``"val_accuracy"`` (default) or ``"val_loss"``, on the validation split.
        ``direction``
            ``"maximize"`` or ``"minimize"``; must agree with the objective (it
            defaults to it).
        ``n_trials``
            default trials per run (20).
        ``seed``
            default study seed (0).
        ``n_train``, ``validation_fraction``, ``data_seed``, ``data_dir``
            the data: ``n_train`` training examples of the task (default: the task's)
            drawn with ``data_seed`` (0), of which ``validation_fraction`` (0.2) is
            held out for the objective; ``data_dir`` for the image tasks.
        ``pruning``
            ``true`` (default), ``false``, or a table of ``MedianPruner`` arguments
            (``n_startup_trials``, ``n_warmup_steps``, ``interval_steps``).
        ``sampler``, ``n_startup_trials``
            ``"tpe"`` (default) or ``"random"``; TPE's random start-up trials.

    source : str
        Named in error messages (the file's path).

    Returns
    -------
    SearchSpace

    Raises
    ------
    SearchSpaceError
    """
    from .cli import _PRESETS, _default_preset
    from .tasks import TASKS

    src = str(source)
    if not isinstance(data, dict):
        raise SearchSpaceError(f"{src}: a search space must be a table (JSON object), got "
                               f"{type(data).__name__}")
    for key in data:
        if key not in _TOP_KEYS:
            raise _unknown("key", key, _TOP_KEYS, src)
    task = data.get("task")
    if task is None:
        raise SearchSpaceError(f"{src}: missing 'task' (one of {', '.join(TASKS)})")
    if task not in TASKS:
        raise SearchSpaceError(f"{src}: task: unknown task {task!r} (known: "
                               f"{', '.join(TASKS)})")
    preset = data.get("preset") or _default_preset(task)
    if preset not in _PRESETS:
        raise SearchSpaceError(f"{src}: preset: unknown preset {preset!r} (known: "
                               f"{', '.join(_PRESETS)})")
    fields = _fields()
    params_in = data.get("params")
    if not isinstance(params_in, dict):
        raise SearchSpaceError(f"{src}: 'params' must be a table of field -> distribution, "
                               f"got {params_in!r}")
    fixed_in = data.get("fixed", {})
    if not isinstance(fixed_in, dict):
        raise SearchSpaceError(f"{src}: 'fixed' must be a table of field -> value, got "
                               f"{fixed_in!r}")
    params, fixed = {}, {}
    for section, table in (("params", params_in), ("fixed", fixed_in)):
        for name, spec in table.items():
            where = f"{src}: {section}.{name}"
            if name in _RESERVED:
                raise SearchSpaceError(f"{where}: {name} cannot be set ({_RESERVED[name]})")
            if name not in fields:
                raise _unknown("TrainConfig field", name, list(fields), f"{src}: {section}")
            if section == "params":
                if name in _NOT_SEARCHED:
                    raise SearchSpaceError(f"{where}: {name} changes speed, not results: "
                                           f"put it in 'fixed'")
                params[name] = _parse_distribution(name, spec, fields[name], where)
            else:
                if name in params_in:
                    raise SearchSpaceError(f"{where}: {name} is both searched (params) and "
                                           f"fixed")
                fixed[name] = spec
    objective = data.get("objective", "val_accuracy")
    if objective not in OBJECTIVES:
        raise SearchSpaceError(f"{src}: objective: unknown objective {objective!r} (known: "
                               f"{', '.join(OBJECTIVES)})")
    direction = data.get("direction", OBJECTIVES[objective][1])
    if direction != OBJECTIVES[objective][1]:
        raise SearchSpaceError(f"{src}: direction {direction!r} does not fit objective "
                               f"{objective} (use {OBJECTIVES[objective][1]!r})")

    def integer(key, default, minimum, allow_none=False):
        value = data.get(key, default)
        if value is None and allow_none:
            return None
        value = _number(value, f"{src}: {key}", integer=True)
        if value < minimum:
            raise SearchSpaceError(f"{src}: {key} must be >= {minimum}, got {value}")
        return value

    n_trials = integer("n_trials", 20, 0)
    seed = integer("seed", 0, 0)
    n_train = integer("n_train", None, 2, allow_none=True)
    data_seed = integer("data_seed", 0, 0)
    n_startup = integer("n_startup_trials", None, 0, allow_none=True)
    frac = _number(data.get("validation_fraction", 0.2), f"{src}: validation_fraction")
    if not 0 < frac < 1:
        raise SearchSpaceError(f"{src}: validation_fraction must lie in (0, 1), got {frac}")
    data_dir = data.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise SearchSpaceError(f"{src}: data_dir must be a string, got {data_dir!r}")
    pruning = data.get("pruning", True)
    if isinstance(pruning, bool):
        pruning = {} if pruning else None
    elif isinstance(pruning, dict):
        for key, value in pruning.items():
            if key not in _PRUNING_KEYS:
                raise _unknown("key of pruning", key, _PRUNING_KEYS, f"{src}: pruning")
            value = _number(value, f"{src}: pruning.{key}", integer=True)
            if value < (1 if key == "interval_steps" else 0):
                raise SearchSpaceError(f"{src}: pruning.{key} out of range: {value}")
        pruning = {k: int(v) for k, v in pruning.items()}
    else:
        raise SearchSpaceError(f"{src}: pruning must be true, false or a table of "
                               f"{', '.join(_PRUNING_KEYS)}, got {pruning!r}")
    sampler = data.get("sampler", "tpe")
    if sampler not in _SAMPLERS:
        raise SearchSpaceError(f"{src}: sampler: unknown sampler {sampler!r} (known: "
                               f"{', '.join(_SAMPLERS)})")
    space = SearchSpace(task=task, preset=preset, params=params, fixed=fixed,
                        objective=objective, direction=direction, n_trials=n_trials, seed=seed,
                        n_train=n_train, validation_fraction=frac, data_seed=data_seed,
                        data_dir=data_dir, pruning=pruning, sampler=sampler,
                        n_startup_trials=n_startup, source=src)
    _check_values(space)
    return space


def _check_values(space):
    """Build the configuration at the fixed values and at every end of every range
    (every choice), so that a bad value fails here, naming its field, and not in the
    middle of a study."""
    try:
        space.config()
    except (ValueError, TypeError) as exc:
        raise SearchSpaceError(f"{space.source}: fixed (with preset {space.preset}): "
                               f"{exc}") from None
    for name, spec in space.params.items():
        for value in _values_of(spec):
            try:
                space.config({name: _field_value(name, value)})
            except (ValueError, TypeError) as exc:
                raise SearchSpaceError(f"{space.source}: params.{name}: value {value!r} is "
                                       f"not valid: {exc}") from None


# --------------------------------------------------------------------------- storage
def check_journal(path) -> pathlib.Path:
    """Check that ``path`` is an Optuna journal file (or does not exist yet).

    Optuna skips an unreadable line at the end of a journal (where a crashed writer may
    have left half a record) and only fails at a later read, after more records have
    been appended behind it; checked here first, such a file is an error that says
    where it is damaged.  A last line without its newline is let through: another
    process may be writing it.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
        The path.

    Raises
    ------
    JournalError
        The file is not a journal, or a record in it is damaged.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise JournalError(f"journal {path} is a folder, not a file")
    if not path.exists():
        return path
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict) or "op_code" not in record:
                raise JournalError(
                    f"journal {path} is corrupt or not an Optuna journal file: line {number} "
                    f"is not a journal record ({line[:60]!r}); move the file away (or cut it "
                    f"before that line) and run again")
    return path


def open_journal(path):
    """The :class:`optuna.storages.JournalStorage` on a journal file (created, with its
    folder, if missing).

    Several processes may open the same file at once: Optuna appends records under a
    lock file next to it (``PATH.lock``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    optuna.storages.JournalStorage

    Raises
    ------
    JournalError
        See :func:`check_journal`.
    ImportError
        Optuna is not installed.
    """
    _require_optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    # Absolute, so that a storage pickled for a Dask scheduler (or a worker started in
    # another folder) still finds the file.
    path = os.path.abspath(check_journal(path))
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return JournalStorage(JournalFileBackend(path))
    except (ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"journal {path} is corrupt: {exc}") from None


# --------------------------------------------------------------------------- trials
def trial_seed(study_seed, trial_number) -> int:
    """The training seed of a trial: a function of the study seed and the trial number
    only, so the same trial trains the same way whichever process runs it."""
    return int(np.random.SeedSequence([int(study_seed), _TRIAL_TAG,
                                       int(trial_number)]).generate_state(1)[0])


def _sampler_seed(study_seed, trial_number) -> int:
    return int(np.random.SeedSequence([int(study_seed), _SAMPLER_TAG,
                                       int(trial_number)]).generate_state(1)[0])


if optuna is not None:
    class _TrialSeededSampler(optuna.samplers.BaseSampler):
        """TPE or random sampling, with a sampler built afresh for every trial and
        seeded from the study seed and the trial number.

        One seeded sampler per process would make processes that start together draw
        the same start-up trials, and make a trial's parameters depend on what its
        process sampled before.  Not safe for ``n_jobs > 1`` threads in one process
        (trials run one at a time in a process here).
        """

        def __init__(self, kind="tpe", seed=0, n_startup_trials=None):
            self._kind, self._seed, self._n_startup = kind, int(seed), n_startup_trials
            self._inner = self._build(0)

        def _build(self, number):
            seed = _sampler_seed(self._seed, number)
            if self._kind == "random":
                return optuna.samplers.RandomSampler(seed=seed)
            kwargs = {} if self._n_startup is None else {"n_startup_trials": self._n_startup}
            return optuna.samplers.TPESampler(seed=seed, **kwargs)

        def before_trial(self, study, trial):
            self._inner = self._build(trial.number)
            self._inner.before_trial(study, trial)

        def infer_relative_search_space(self, study, trial):
            return self._inner.infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self._inner.sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self._inner.sample_independent(study, trial, param_name,
                                                  param_distribution)

        def after_trial(self, study, trial, state, values):
            self._inner.after_trial(study, trial, state, values)

        def reseed_rng(self):
            self._inner.reseed_rng()


def _suggest(trial, name, spec):
    kind = spec["type"]
    if kind == "float":
        return trial.suggest_float(name, spec["low"], spec["high"], log=spec["log"],
                                   step=spec["step"])
    if kind == "int":
        return trial.suggest_int(name, spec["low"], spec["high"], log=spec["log"],
                                 step=spec["step"])
    encoded = [_encode_choice(c) for c in spec["choices"]]
    picked = trial.suggest_categorical(name, encoded)
    return spec["choices"][encoded.index(picked)]


def suggest_config(trial, space, *, seed=0, n_threads=None):
    """Ask an Optuna trial for every searched field and build its configuration.

    Parameters
    ----------
    trial : optuna.Trial
    space : SearchSpace
    seed : int
        The configuration's ``seed``.
    n_threads : int, optional
        Engine threads (results do not depend on it).

    Returns
    -------
    TrainConfig
    """
    values = {name: _field_value(name, _suggest(trial, name, spec))
              for name, spec in space.params.items()}
    return space.config(values, seed=seed, n_threads=n_threads)


@functools.lru_cache(maxsize=4)
def _split(task, n_train, frac, data_seed, data_dir):
    from .tasks import make_task

    X, y, _, _ = make_task(task, n_train=n_train, n_test=0, seed=data_seed, data_dir=data_dir)
    n = len(y)
    n_val = min(max(1, round(n * frac)), n - 1)
    order = np.random.default_rng([data_seed, _SPLIT_TAG]).permutation(n)
    parts = X[order[n_val:]], y[order[n_val:]], X[order[:n_val]], y[order[:n_val]]
    for a in parts:  # shared by every trial of the process
        a.setflags(write=False)
    return parts


def validation_split(space):
    """The training and validation data of a space's trials.

    Parameters
    ----------
    space : SearchSpace

    Returns
    -------
    X_train, y_train, X_val, y_val
        Both parts come from the task's training data; the test set is not touched.
    """
    return _split(space.task, space.n_train, space.validation_fraction, space.data_seed,
                  space.data_dir)


def evaluate_config(space, config, *, trial=None):
    """Train ``config`` on the space's training split and score it on the validation split.

    Parameters
    ----------
    space : SearchSpace
    config : TrainConfig
        Includes the seed; the same config gives the same value.
    trial : optuna.Trial, optional
        Receives the validation score after every epoch (``trial.report``); when its
        pruner says so, training stops and :class:`optuna.TrialPruned` is raised.

    Returns
    -------
    float
        The objective of the trained network (the network ``fit`` keeps, so with
        ``select_best`` not necessarily the last epoch's).
    """
    from .training import SpikingClassifier

    X, y, Xv, yv = validation_split(space)
    key = OBJECTIVES[space.objective][0]
    pruned_at = []

    def report(clf, entry):
        if trial is None:
            return False
        value = entry["test_" + key]
        if math.isfinite(value):
            trial.report(value, entry["epoch"])
        if trial.should_prune():
            pruned_at.append(entry["epoch"])
            return True
        return False

    clf = SpikingClassifier(config).fit(X, y, Xv, yv, callback=report)
    if pruned_at:
        raise _require_optuna().TrialPruned(f"pruned after epoch {pruned_at[0]}")
    if trial is not None:
        trial.set_user_attr("epochs_trained", int(clf.n_epochs_))
    return float(clf.evaluate(Xv, yv)[key])


class _Objective:
    """The objective of a study (a class, so that Dask can send it to workers)."""

    def __init__(self, space, study_seed, n_threads=None):
        self.space, self.study_seed, self.n_threads = space, int(study_seed), n_threads

    def __call__(self, trial):
        seed = trial_seed(self.study_seed, trial.number)
        config = suggest_config(trial, self.space, seed=seed, n_threads=self.n_threads)
        trial.set_user_attr("seed", seed)
        stored = config.to_dict()
        stored["n_threads"] = None  # how fast it ran is not part of the result
        trial.set_user_attr("config", stored)
        return evaluate_config(self.space, config, trial=trial)


def _pruner(space):
    if space.pruning is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(**space.pruning)


def _load(study_name, storage, space, seed, create=True):
    """Create the study (or only load it) and check that it was made for this space."""
    sampler = _TrialSeededSampler(space.sampler, seed, space.n_startup_trials)
    if create:
        study = optuna.create_study(storage=storage, study_name=study_name,
                                    direction=space.direction, load_if_exists=True,
                                    sampler=sampler, pruner=_pruner(space))
    else:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage,
                                      sampler=sampler, pruner=_pruner(space))
        except KeyError:
            raise ValueError(f"no study {study_name!r} in this storage (known: "
                             f"{', '.join(optuna.get_all_study_names(storage)) or 'none'})"
                             ) from None
    if study.direction.name.lower() != space.direction:
        raise ValueError(f"study {study_name!r} exists with direction "
                         f"{study.direction.name.lower()}; the space asks for "
                         f"{space.direction}: use another study name")
    attrs = study.user_attrs
    if _ATTR_SPACE not in attrs and create:
        # Processes starting together may both get here; they write the same values.
        study.set_user_attr(_ATTR_SPACE, space._identity())
        study.set_user_attr(_ATTR_SEED, int(seed))
    elif _ATTR_SPACE in attrs:
        if attrs[_ATTR_SPACE] != space._identity():
            old, new = json.loads(attrs[_ATTR_SPACE]), json.loads(space._identity())
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(f"study {study_name!r} was made with another search space "
                             f"(differs in: {', '.join(diff)}); use another study name")
        if int(attrs.get(_ATTR_SEED, seed)) != int(seed):
            raise ValueError(f"study {study_name!r} was made with seed {attrs[_ATTR_SEED]}, "
                             f"not {seed}: pass that seed or use another study name")
    return study


def _dask_trial(study_name, storage, space, seed, n_threads):
    """One trial on a Dask worker, with its own study object, sampler and objective."""
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=_TrialSeededSampler(space.sampler, seed,
                                                          space.n_startup_trials),
                              pruner=_pruner(space))
    study.optimize(_Objective(space, seed, n_threads), n_trials=1)


def _dask_storage(storage, scheduler):
    try:
        import distributed
        from optuna_integration import DaskStorage
    except ImportError as exc:
        raise ImportError(f"--scheduler needs dask, distributed and optuna-integration "
                          f"({exc}): {TUNE_EXTRA} and pip install \"eventsim[dask]\"") from None
    client = scheduler if isinstance(scheduler, distributed.Client) else \
        distributed.Client(scheduler)
    with warnings.catch_warnings():
        # DaskStorage is marked experimental; it is the documented way to share a
        # study with Dask workers.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return DaskStorage(storage=storage, client=client), client


def tune(space, storage, study_name, *, n_trials=None, seed=None, scheduler=None,
         n_threads=None, callbacks=None):
    """Run trials of a search space into a study; earlier trials of the study stay.

    Parameters
    ----------
    space : SearchSpace, str or os.PathLike
        A space or its file.
    storage : str, os.PathLike or optuna.storages.BaseStorage
        A journal file (shared by every process that runs trials of the study) or an
        Optuna storage.
    study_name : str
        Created if missing, else loaded: the new trials add to it.  A study made with
        another space or seed is refused.
    n_trials : int, optional
        Trials of this call (default ``space.n_trials``); 0 runs none and only loads the
        study, which must exist.
    seed : int, optional
        Study seed (default ``space.seed``): trial ``k`` trains with
        :func:`trial_seed(seed, k) <trial_seed>` and samples with a sampler seeded from
        the same pair.
    scheduler : str or distributed.Client, optional
        Run the trials on the workers of this Dask scheduler (address or client),
        through ``optuna_integration.DaskStorage``: the storage lives on the scheduler
        (a journal file must be at the same path there).
    n_threads : int, optional
        Engine threads per trial (results do not depend on it).
    callbacks : list of callable, optional
        Optuna ``callback(study, frozen_trial)`` after every trial (not with
        ``scheduler``).

    Returns
    -------
    optuna.Study
        The study, with every trial recorded so far.
    """
    _require_optuna()
    if not isinstance(space, SearchSpace):
        space = load_space(space)
    n_trials = space.n_trials if n_trials is None else int(n_trials)
    seed = space.seed if seed is None else int(seed)
    if n_trials < 0 or seed < 0:
        raise ValueError(f"n_trials and seed must be >= 0, got {n_trials} and {seed}")
    journal = None
    if not isinstance(storage, optuna.storages.BaseStorage):
        storage = open_journal(storage)
        journal = storage
    if scheduler is None or n_trials == 0:
        study = _load(study_name, storage, space, seed, create=n_trials > 0)
        if n_trials:
            study.optimize(_Objective(space, seed, n_threads), n_trials=n_trials,
                           callbacks=callbacks)
        return study
    import distributed

    dask_storage, client = _dask_storage(storage, scheduler)
    own_client = client is not scheduler
    try:
        _load(study_name, dask_storage, space, seed)
        futures = [client.submit(_dask_trial, study_name, dask_storage, space, seed,
                                 n_threads, pure=False) for _ in range(n_trials)]
        distributed.wait(futures)
        client.gather(futures)  # raises the first error of a worker, if any
        if journal is None:
            # The trials live in the scheduler's copy of the storage: bring them back.
            journal = dask_storage.get_base_storage()
    finally:
        if own_client:
            client.close()
    # A study that outlives the client: on the journal file, which the scheduler wrote.
    return optuna.load_study(study_name=study_name, storage=journal,
                             sampler=_TrialSeededSampler(space.sampler, seed,
                                                         space.n_startup_trials),
                             pruner=_pruner(space))


# --------------------------------------------------------------------------- results
def best_config(study):
    """The configuration of the best trial, seed included.

    Parameters
    ----------
    study : optuna.Study

    Returns
    -------
    TrainConfig
        :func:`evaluate_config` with it gives ``study.best_value`` again.
    """
    from .training import TrainConfig

    return TrainConfig.from_dict(study.best_trial.user_attrs["config"])


def _train_actions():
    """``eventsim train``'s options by destination (read from the parser, so that a new
    flag of ``eventsim train`` is used here as soon as it exists)."""
    import argparse

    from .cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["train"]._actions if a.option_strings}


def train_command(config, space):
    """The ``eventsim train`` command line that trains a configuration.

    Options equal to the preset's values are left out.  The command trains on the
    whole training set of ``n_train`` examples (no validation split) and tests on the
    test set, and its ``--seed`` also seeds the data: it trains the configuration
    again, it does not recompute a trial's validation score (:func:`evaluate_config`
    does).

    Parameters
    ----------
    config : TrainConfig
    space : SearchSpace

    Returns
    -------
    command : str
    missing : dict
        Fields that differ from the preset but have no ``eventsim train`` option
        (field -> value); empty when the command gives the whole configuration.
    """
    import argparse

    from .cli import _PRESETS
    from .training import TrainConfig

    actions = _train_actions()
    base = getattr(TrainConfig, _PRESETS[space.preset])()
    argv = ["eventsim", "train", "--task", space.task, "--preset", space.preset]
    if space.n_train is not None:
        argv += ["--n-train", str(space.n_train)]
    if space.data_dir is not None:
        argv += ["--data-dir", space.data_dir]
    missing = {}
    for field in dataclasses.fields(TrainConfig):
        name = field.name
        value = getattr(config, name)
        if name in ("n_outputs", "n_threads", "eval_train"):
            continue  # the task sets n_outputs; the other two do not change results
        if name != "seed" and value == getattr(base, name):
            continue
        action = actions.get(name)
        text = _flag_value(name, value)
        if action is None or (text is None and not isinstance(
                action, argparse.BooleanOptionalAction)):
            missing[name] = value
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(action.option_strings[0 if value else 1])
        else:
            argv += [action.option_strings[0], text]
    return shlex.join(argv), missing


def _flag_value(name, value):
    """A value as ``eventsim train`` parses it, or None where it has no spelling."""
    if isinstance(value, bool):
        return None
    if value is None:
        # eventsim train spells "no clipping" 0 and "no bound" none.
        return {"clip_derivative": "0", "min_weight": "none"}.get(name)
    if isinstance(value, tuple):
        return (",".join(map(str, value)) or "0") if name == "n_hidden" else None
    return repr(value) if isinstance(value, float) else str(value)
