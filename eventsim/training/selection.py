"""Which network a fit returns: the bookkeeping of independent starts and of the
best epoch (``TrainConfig.n_starts``, ``select_best``).

Only training-set figures take part in the selection.  The state is saved in
checkpoints (``meta["train_state"]``, the networks it refers to as arrays), so a
resumed fit selects exactly what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Score", "FitState", "start_seed"]


def start_seed(seed, start) -> int:
    """Seed of start ``start`` (0: ``seed`` itself) of a fit with ``n_starts > 1``."""
    if start == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), 77, int(start)]).generate_state(1)[0])


@dataclasses.dataclass
class Score:
    """Training-set figures of the network after one epoch.

    Attributes
    ----------
    epoch : int
        Epoch over the whole fit (1-based, as in ``history_["epoch"]``).
    start_epoch : int
        Epoch within its start (1-based).
    train_accuracy : float
    train_margin : float
        Smallest lead of the target output over the others on the training set.
    start : int or None
        The start it belongs to (set once the start has ended).
    """

    epoch: int
    start_epoch: int
    train_accuracy: float
    train_margin: float
    start: int | None = None

    def better_than(self, other: "Score", *, margin=False) -> bool:
        """Higher training accuracy, or (``margin``) the same accuracy and a larger
        training margin.  Exact ties are not better, so the earliest wins."""
        if self.train_accuracy != other.train_accuracy:
            return bool(self.train_accuracy > other.train_accuracy)
        return bool(margin and self.train_margin > other.train_margin)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if self.start is None:
            del d["start"]
        return d

    @classmethod
    def from_dict(cls, d) -> "Score | None":
        return None if d is None else cls(**d)


@dataclasses.dataclass
class FitState:
    """Where a fit stands among its starts, and the networks it may return.

    Attributes
    ----------
    start : int
        The current start.
    start_epoch : int
        Epochs done in the current start.
    refining : bool
        The current start is in the margin refinement phase.
    finished : bool
        The current start has ended; the next one begins at the next epoch.
    done : bool
        Training has ended for good (early stop or a spent shared budget).
    current : Score or None
        The current start's latest epoch.
    start_best : Score or None
        Its best epoch (``select_best``), whose network is ``start_best_network``.
    best : Score or None
        The best finished start's kept epoch, whose network is ``best_network``.
    starts : list of dict
        Summaries of the finished starts (the entries of ``starts_``).
    """

    start: int = 0
    start_epoch: int = 0
    refining: bool = False
    finished: bool = False
    done: bool = False
    current: Score | None = None
    start_best: Score | None = None
    best: Score | None = None
    starts: list = dataclasses.field(default_factory=list)
    start_best_network: object = dataclasses.field(default=None, repr=False, compare=False)
    best_network: object = dataclasses.field(default=None, repr=False, compare=False)

    _SCORES = ("current", "start_best", "best")
    _NETWORKS = {"start_best": "start_best_network", "best": "best_network"}

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-serialisable form (networks not included: see :meth:`network_arrays`)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if not f.name.endswith("_network")}
        for key in self._SCORES:
            d[key] = None if d[key] is None else d[key].to_dict()
        d["starts"] = [dict(s) for s in self.starts]
        return d

    @classmethod
    def from_dict(cls, d) -> "FitState":
        """Inverse of :meth:`to_dict`; unknown entries raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls) if not f.name.endswith("_network")}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training state entries {sorted(unknown)}")
        d = dict(d)
        for key in cls._SCORES:
            if key in d:
                d[key] = Score.from_dict(d[key])
        return cls(**d)

    def network_arrays(self) -> dict:
        """Weights and pulse times of the networks the state refers to, by array name."""
        out = {}
        for key, attr in self._NETWORKS.items():
            net = getattr(self, attr)
            if net is not None:
                out[f"{key}_weights"] = net.weights
                out[f"{key}_pulse_times"] = net.pulse_times
        return out

    def restore_networks(self, template, arrays):
        """Rebuild the referenced networks from :meth:`network_arrays` output, on a
        copy of ``template`` (same graph)."""
        for key, attr in self._NETWORKS.items():
            net = None
            if f"{key}_weights" in arrays:
                net = template.copy()
                net.weights = arrays[f"{key}_weights"]
                net.pulse_times = arrays[f"{key}_pulse_times"]
            if (getattr(self, key) is None) != (net is None):
                raise ValueError(f"the {key.replace('_', ' ')} network is missing")
            setattr(self, attr, net)

    # ------------------------------------------------------------------ selection
    def kept_of_current_start(self, training_network, select_best):
        """(network, score) the current start would contribute, or (None, None)."""
        if select_best:
            return self.start_best_network, self.start_best
        if self.current is None:
            return None, None
        return training_network, self.current

    def result_network(self, training_network, select_best):
        """The network the fit returns if training ended now."""
        net, score = self.kept_of_current_start(training_network, select_best)
        if score is not None and (self.best is None or score.better_than(self.best)):
            return net
        return self.best_network if self.best is not None else training_network

    def record_epoch(self, score: Score, training_network, select_best):
        """Note the score of the epoch just trained (and its network, if it is the
        start's best so far)."""
        self.current = score
        if select_best and (self.start_best is None
                            or score.better_than(self.start_best, margin=True)):
            self.start_best = score
            self.start_best_network = training_network.copy()

    def summary(self, seed, training_network, select_best) -> dict:
        """The ``starts_`` entry of the current start."""
        _, score = self.kept_of_current_start(training_network, select_best)
        d = {"start": self.start, "seed": start_seed(seed, self.start),
             "epochs": self.start_epoch, "refined": self.refining}
        if score is not None:
            d.update(kept_epoch=score.start_epoch, train_accuracy=score.train_accuracy,
                     train_margin=score.train_margin)
        return d

    def end_start(self, seed, training_network, select_best):
        """Fold the current (finished) start into the best of the starts so far."""
        net, score = self.kept_of_current_start(training_network, select_best)
        self.starts.append(self.summary(seed, training_network, select_best))
        if score is not None and (self.best is None or score.better_than(self.best)):
            self.best = dataclasses.replace(score, start=self.start)
            self.best_network = net.copy()

    def begin_next_start(self):
        """Reset the per-start fields for the next start."""
        self.start += 1
        self.start_epoch = 0
        self.refining = self.finished = False
        self.current = self.start_best = None
        self.start_best_network = None

    def selection(self, seed, training_network, select_best):
        """(``selection_``, ``starts_``) of the fitted classifier."""
        starts = [dict(s) for s in self.starts]
        if not self.finished:
            starts.append(self.summary(seed, training_network, select_best))
        _, score = self.kept_of_current_start(training_network, select_best)
        if score is not None and (self.best is None or score.better_than(self.best)):
            sel = dataclasses.replace(score, start=self.start).to_dict()
        else:
            sel = None if self.best is None else self.best.to_dict()
        return sel, starts
