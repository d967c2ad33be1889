"""Tests for eventsim.train: loss, accuracy rules, Adam, the trainer, checkpoints."""

import dataclasses
import json
import math
import pathlib
import warnings

import numpy as np
import pytest

import eventsim
from eventsim import tasks
from eventsim.train import (MAX_EXAMPLE_LOSS, Adam, CheckpointError, SpikingClassifier,
                            TrainConfig, accuracy, cross_entropy,
                            load_checkpoint, predict_classes, save_checkpoint,
                            softmax_neg_times)

INF = np.inf


def small_xor(n_train=120, n_test=40, seed=0):
    return tasks.make_task("xor", n_train=n_train, n_test=n_test, seed=seed)


def strip_time(history):
    """History without wall times, as JSON text (NaN compares equal to NaN)."""
    return json.dumps({k: v for k, v in history.items() if k != "time_s"}, sort_keys=True)


# ---------------------------------------------------------------------------- loss
def reference_ce(t, y):
    """-ln softmax(-t)_y by direct evaluation (no tricks), silent = p 0."""
    e = np.exp(-np.asarray(t, float))
    p = e / e.sum()
    return -math.log(p[y])


def test_cross_entropy_matches_direct_formula_and_finite_differences(rng):
    t = rng.uniform(0.0, 3.0, size=(30, 4))
    t[rng.random(t.shape) < 0.2] = INF
    y = rng.integers(0, 4, size=30)
    t[np.arange(30), y] = rng.uniform(0.0, 3.0, size=30)  # the target spikes
    loss, g = cross_entropy(t, y)
    for i in range(30):
        assert loss[i] == pytest.approx(reference_ce(t[i], y[i]), rel=1e-12, abs=1e-14)
    # dL/dt_k = y_k - p_k, checked against central differences of the loss function.
    h = 1e-6
    for i in range(30):
        for k in np.flatnonzero(np.isfinite(t[i])):
            tp, tm = t[i:i + 1].copy(), t[i:i + 1].copy()
            tp[0, k] += h
            tm[0, k] -= h
            fd = (cross_entropy(tp, y[i:i + 1])[0][0] - cross_entropy(tm, y[i:i + 1])[0][0]) / (2 * h)
            assert g[i, k] == pytest.approx(fd, abs=1e-8)
    p = softmax_neg_times(t)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(g, onehot - p, atol=1e-15)
    assert (p[~np.isfinite(t)] == 0).all()


def test_cross_entropy_silent_outputs_no_nan():
    t = np.array([[INF, INF, INF], [0.5, INF, INF], [INF, 0.5, 0.7], [1e6, 2.0, INF]])
    y = np.array([1, 0, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax_neg_times(t)
        loss, g = cross_entropy(t, y)
    assert np.isfinite(p).all() and np.isfinite(loss).all() and np.isfinite(g).all()
    np.testing.assert_allclose(p[0], [1 / 3] * 3)          # all silent: uniform, as the reference
    assert loss[0] == pytest.approx(math.log(3))
    np.testing.assert_array_equal(p[1], [1.0, 0.0, 0.0])   # silent outputs: p = 0
    assert loss[1] == 0.0
    assert loss[2] == MAX_EXAMPLE_LOSS                      # silent target: capped
    assert loss[3] == MAX_EXAMPLE_LOSS                      # 1e6 late: capped too
    np.testing.assert_allclose(g[2], [1.0, -p[2, 1], -p[2, 2]])


def test_cross_entropy_validates():
    with pytest.raises(ValueError, match="labels must lie"):
        cross_entropy([[0.1, 0.2]], [2])
    with pytest.raises(ValueError, match="NaN"):
        cross_entropy([[np.nan, 0.2]], [0])
    with pytest.raises(ValueError, match="shape"):
        cross_entropy([0.1, 0.2], [0])


def test_loss_gradient_through_network_matches_finite_differences():
    """Mean loss of a batch: engine gradient / n equals central differences."""
    X, y, _, _ = small_xor(n_train=40, n_test=1, seed=3)
    net = eventsim.feedforward(2, [3], 2, n_pulses=1, pulses="per_network",
                               pulse_init_multiplier=3, nonpulse_init_multiplier=3, rng=1)
    out = net["output"].ids

    def mean_loss():
        return cross_entropy(eventsim.simulate(net, X).times[:, out], y)[0].mean()

    res = eventsim.simulate(net, X, record_tape=True)
    assert np.isfinite(res.times[:, out]).all()
    _, dl = cross_entropy(res.times[:, out], y)
    g = eventsim.backward(net, res, dl, outputs=out)
    w0, p0, h = net.weights.copy(), net.pulse_times.copy(), 1e-6
    for k in range(w0.size):
        vals = []
        for s in (1, -1):
            w = w0.copy()
            w[k] += s * h
            net.weights = w
            vals.append(mean_loss())
        net.weights = w0
        assert g.weights[k] / len(y) == pytest.approx((vals[0] - vals[1]) / (2 * h), abs=2e-7)
    vals = []
    for s in (1, -1):
        net.pulse_times = p0 + s * h
        vals.append(mean_loss())
    net.pulse_times = p0
    assert g.pulse_times[0] / len(y) == pytest.approx((vals[0] - vals[1]) / (2 * h), abs=2e-7)


# ---------------------------------------------------------------------------- accuracy
def test_accuracy_first_spike_ties_and_silence():
    t = np.array([
        [0.3, 0.5],      # class 0
        [0.5, 0.3],      # class 1
        [0.4, 0.4],      # tie -> undecided
        [INF, INF],      # all silent -> undecided
        [INF, 0.9],      # only output 1 spikes
        [0.2, 0.2, ][:2],
    ])
    np.testing.assert_array_equal(predict_classes(t), [0, 1, -1, -1, 1, -1])
    y = np.array([0, 1, 0, 0, 1, 1])
    assert accuracy(t, y) == pytest.approx(3 / 6)
    # Ties count as wrong whichever label: even if the tied neuron is the label.
    assert accuracy([[0.4, 0.4, 0.9]], [0]) == 0.0
    assert accuracy([[0.4, 0.4, 0.1]], [2]) == 1.0


# ---------------------------------------------------------------------------- Adam
def test_adam_matches_hand_computed_steps():
    opt = Adam({"w": (2,), "p": (1,)}, {"w": 0.1, "p": 0.5})
    g1 = {"w": np.array([0.5, -2.0]), "p": np.array([4.0])}
    u1 = opt.step(g1)
    # Step 1: m = 0.1 g, v = 0.001 g^2; bias corrected m_hat = g, v_hat = g^2;
    # update = -lr g / sqrt(g^2 + 1e-8)  (epsilon inside the root, as the reference).
    for name, lr in (("w", 0.1), ("p", 0.5)):
        g = g1[name]
        np.testing.assert_allclose(u1[name], -lr * g / np.sqrt(g * g + 1e-8), rtol=1e-13)
    g2 = {"w": np.array([1.0, 1.0]), "p": np.array([0.0])}
    u2 = opt.step(g2)
    # Step 2 by hand for w[0]: m = 0.9*0.05 + 0.1*1 = 0.145, v = 0.999*0.00025 + 0.001*1
    m, v = 0.145, 0.999 * 0.00025 + 0.001
    expect = -0.1 * (m / (1 - 0.9 ** 2)) / math.sqrt(v / (1 - 0.999 ** 2) + 1e-8)
    assert u2["w"][0] == pytest.approx(expect, rel=1e-13)
    # p: m = 0.9*0.4 = 0.36, v = 0.999*0.016
    m, v = 0.36, 0.999 * 0.016
    assert u2["p"][0] == pytest.approx(-0.5 * (m / 0.19) / math.sqrt(v / (1 - 0.999 ** 2) + 1e-8),
                                       rel=1e-13)
    assert opt.t == 2
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros(3), "p": np.zeros(1)})


# ---------------------------------------------------------------------------- config
def test_config_presets_and_roundtrip():
    b = TrainConfig.boolean()
    assert b == TrainConfig()
    table1 = dict(batch_size=1, clip_derivative=100.0, decay_constant=1.0, fire_threshold=1.0,
                  learning_rate=1e-3, learning_rate_pulses=1e-3, n_hidden=(2,), n_pulses=1,
                  nonpulse_init_multiplier=0.0, penalty_no_spike=1.0, pulse_init_multiplier=0.0)
    assert {k: getattr(b, k) for k in TrainConfig.TABLE1} == table1
    m = TrainConfig.mnist()
    assert (m.batch_size, m.clip_derivative, m.decay_constant, m.fire_threshold) == \
        (5, 539.7, 0.181769, 1.16732)
    assert (m.learning_rate, m.learning_rate_pulses, m.n_hidden, m.n_pulses) == \
        (2.01864e-4, 5.95375e-2, (340,), 10)
    assert (m.nonpulse_init_multiplier, m.penalty_no_spike, m.pulse_init_multiplier) == \
        (-0.275419, 48.3748, 7.83912)
    assert m.pulses == "per_layer" and b.pulses == "per_network"
    assert TrainConfig.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert TrainConfig.mnist(batch_size=7).batch_size == 7
    for bad in (dict(batch_size=0), dict(learning_rate=-1.0), dict(pulses="x"),
                dict(n_hidden=(0,)), dict(clip_derivative=0.0), dict(seed=-1)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"nope": 1})


def test_initialisation_glorot_and_pulses():
    cfg = TrainConfig(n_hidden=(300,), n_pulses=4, pulses="per_layer",
                      nonpulse_init_multiplier=-1.5, pulse_init_multiplier=2.0, seed=5)
    net = SpikingClassifier(cfg).init_network(200, 10)
    np.testing.assert_allclose(net.pulse_times, np.tile([0.2, 0.4, 0.6, 0.8], 2))
    w = net.weight_matrix("input", "hidden0")
    std = math.sqrt(2.0 / (200 + 4 + 300))
    assert w.std() == pytest.approx(std, rel=0.02)
    assert w.mean() == pytest.approx(-1.5 * std, abs=0.02 * std)
    wp = net.weight_matrix("pulses0", "hidden0")
    assert wp.mean() == pytest.approx(2.0 * std, abs=0.15 * std)
    assert net.tau.tolist() == [1.0, 1.0] and net.theta.tolist() == [1.0, 1.0]
    # Same seed, same network.
    again = SpikingClassifier(cfg).init_network(200, 10)
    np.testing.assert_array_equal(again.weights, net.weights)


# ---------------------------------------------------------------------------- trainer
def test_selected_examples_equal_resimulation(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=1, pulse_init_multiplier=2,
                               nonpulse_init_multiplier=2, rng=2)
    X = rng.uniform(0, 1, (9, 3))
    out = net["output"].ids
    res = eventsim.simulate(net, X, record_tape=True)
    for rows in (np.array([1, 4, 5, 8]), np.array([2, 3, 4]), np.array([8])):
        dl = rng.normal(size=(rows.size, 2))
        a = eventsim.backward(net, res.select(rows), dl, outputs=out,
                              clip_derivative=50.0, penalty_no_spike=0.7)
        sub = eventsim.simulate(net, X[rows], record_tape=True)
        b = eventsim.backward(net, sub, dl, outputs=out, clip_derivative=50.0,
                              penalty_no_spike=0.7)
        for f in dataclasses.fields(a):
            np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))


def naive_train(X, y, cfg):
    """Straightforward reference of the training loop: batch by batch, re-simulating."""
    net = SpikingClassifier(cfg).init_network(X.shape[1], 2)
    if cfg.min_weight is not None:
        net.weights = np.maximum(net.weights, cfg.min_weight)
    out = net["output"].ids
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = {"w": np.zeros_like(net.weights), "p": np.zeros_like(net.pulse_times)}
    v = {"w": np.zeros_like(net.weights), "p": np.zeros_like(net.pulse_times)}
    lr = {"w": cfg.learning_rate, "p": cfg.learning_rate_pulses}
    t = 0
    for epoch in range(cfg.epochs):
        order = np.random.default_rng([cfg.seed, 1, epoch]).permutation(len(y))
        for s in range(0, len(y), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            times = eventsim.simulate(net, X[idx]).times[:, out]
            pred = predict_classes(times)
            update = pred != y[idx]
            for i, (row, label) in enumerate(zip(times, y[idx])):
                if cfg.update_margin:
                    others = min(t for k, t in enumerate(row) if k != label)
                    # Update unless the target leads by the margin (target silent: update).
                    if not (np.isfinite(row[label]) and others - row[label] >= cfg.update_margin):
                        update[i] = True
            use = idx[update] if cfg.update_on_misclassified_only else idx
            if use.size == 0:
                continue
            res = eventsim.simulate(net, X[use], record_tape=True)
            _, dl = cross_entropy(res.times[:, out], y[use])
            g = eventsim.backward(net, res, dl, outputs=out, clip_derivative=cfg.clip_derivative,
                                  penalty_no_spike=cfg.penalty_no_spike)
            t += 1
            upd = {}
            for k, grad in (("w", g.weights * (1.0 / use.size)),
                            ("p", g.pulse_times * (1.0 / use.size))):
                m[k] = b1 * m[k] + (1 - b1) * grad
                v[k] = b2 * v[k] + (1 - b2) * (grad * grad)
                upd[k] = -lr[k] * (m[k] * (1.0 / (1.0 - b1 ** t))) / np.sqrt(
                    v[k] * (1.0 / (1.0 - b2 ** t)) + eps)
            net.weights = net.weights + upd["w"]
            if cfg.min_weight is not None:
                net.weights = np.maximum(net.weights, cfg.min_weight)
            net.pulse_times = np.maximum(net.pulse_times + upd["p"], 0.0)
    return net, t


@pytest.mark.parametrize("batch_size,misclassified_only,extra", [
    (1, True, {}), (3, True, {}), (4, False, {}),
    (1, True, {"min_weight": 0.0}), (3, True, {"min_weight": -0.05}),
    (1, True, {"update_margin": 0.05}), (3, True, {"update_margin": 0.02, "min_weight": 0.0}),
    (4, False, {"update_margin": 0.05, "min_weight": 0.0})])
def test_trainer_matches_naive_loop(batch_size, misclassified_only, extra):
    X, y, _, _ = small_xor(n_train=90, n_test=1, seed=1)
    cfg = TrainConfig(batch_size=batch_size, update_on_misclassified_only=misclassified_only,
                      epochs=3, seed=4, learning_rate=0.02, learning_rate_pulses=0.02,
                      nonpulse_init_multiplier=1.0, pulse_init_multiplier=1.0, **extra)
    clf = SpikingClassifier(cfg).fit(X, y)
    net, steps = naive_train(X, y, cfg)
    assert clf.optimizer_.t == steps == sum(clf.history_["n_updates"])
    np.testing.assert_array_equal(clf.network_.weights, net.weights)
    np.testing.assert_array_equal(clf.network_.pulse_times, net.pulse_times)


def test_update_uses_mean_of_contributing_examples(monkeypatch):
    X, y, _, _ = small_xor(n_train=5, n_test=1, seed=2)
    cfg = TrainConfig(batch_size=5, epochs=1, update_on_misclassified_only=False, seed=0,
                      shuffle=False)
    clf = SpikingClassifier(cfg)
    seen = []
    orig = Adam.step

    def spy(self, grads):
        seen.append({k: v.copy() for k, v in grads.items()})
        return orig(self, grads)

    monkeypatch.setattr(Adam, "step", spy)
    clf.fit(X, y)
    net = clf.init_network(2, 2)
    out = net["output"].ids
    res = eventsim.simulate(net, X, record_tape=True)
    _, dl = cross_entropy(res.times[:, out], y)
    g = eventsim.backward(net, res, dl, outputs=out, clip_derivative=100.0, penalty_no_spike=1.0)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0]["weights"], g.weights / 5, rtol=1e-15)
    np.testing.assert_allclose(seen[0]["pulse_times"], g.pulse_times / 5, rtol=1e-15)


def test_seeded_fits_are_identical_and_thread_independent():
    X, y, Xt, yt = small_xor()
    cfg = TrainConfig(epochs=3, seed=11, n_threads=1, learning_rate=0.01,
                      nonpulse_init_multiplier=1.0, pulse_init_multiplier=1.0)
    a = SpikingClassifier(cfg).fit(X, y, Xt, yt)
    b = SpikingClassifier(cfg.replace(n_threads=2)).fit(X, y, Xt, yt)
    np.testing.assert_array_equal(a.network_.weights, b.network_.weights)
    np.testing.assert_array_equal(a.network_.pulse_times, b.network_.pulse_times)
    assert strip_time(a.history_) == strip_time(b.history_)
    c = SpikingClassifier(cfg.replace(seed=12)).fit(X, y, Xt, yt)
    assert not np.array_equal(a.network_.weights, c.network_.weights)


def test_history_and_predict_api():
    X, y, Xt, yt = small_xor()
    clf = SpikingClassifier(TrainConfig(epochs=2, seed=0), verbose=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict(Xt)
    clf.fit(X, y, Xt, yt)
    h = clf.history_
    assert h["epoch"] == [1, 2] and clf.n_epochs_ == 2
    for key in ("loss", "train_accuracy", "test_loss", "test_accuracy", "running_loss",
                "running_accuracy", "n_updates", "train_first_output_time", "train_hidden_time",
                "test_first_output_time", "test_hidden_time", "pulse_times"):
        assert len(h[key]) == 2, key
    times = clf.predict_times(Xt)
    assert times.shape == (len(yt), 2)
    pred = clf.predict(Xt)
    np.testing.assert_array_equal(pred, predict_classes(times))
    assert clf.score(Xt, yt) == pytest.approx(h["test_accuracy"][-1])
    assert clf.evaluate(Xt, yt)["loss"] == pytest.approx(h["test_loss"][-1])
    np.testing.assert_allclose(clf.predict_proba(Xt).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="labels"):
        SpikingClassifier(TrainConfig(epochs=1, n_outputs=2)).fit(X, y + 5)


def test_fit_from_given_network_and_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y, _, _ = small_xor(n_train=30)
    net = eventsim.feedforward(2, [3], 2, n_pulses=1, rng=0)
    clf = SpikingClassifier(TrainConfig(epochs=1), network=net, verbose=True).fit(X, y)
    assert clf.network_ is not net and clf.network_["hidden0"].size == 3
    assert "training: 100%" in capsys.readouterr().err


def test_progress_leaves_one_bar_per_run(capsys):
    """Inner (per-epoch) bars clear; the run's bar is the only one left, even over
    several starts."""
    X, y, _, _ = small_xor(n_train=30)
    SpikingClassifier(TrainConfig.boolean_fixed(epochs=3, n_threads=1, n_starts=3,
                                                   start_patience=1),
                      verbose=True).fit(X, y)
    err = capsys.readouterr().err
    final = err.rstrip("\n").rsplit("\n", 1)[-1].split("\r")[-1]
    assert final.startswith("start ") and "epoch/s" in final
    # Only the outer bar leaves a line (tqdm ends a kept bar with a newline).
    assert err.count("\n") - err.count("\x1b[A") <= 2


# ---------------------------------------------------------------------------- checkpoints
def test_checkpoint_roundtrip(tmp_path):
    X, y, Xt, yt = small_xor()
    clf = SpikingClassifier(TrainConfig(epochs=2, seed=3)).fit(X, y, Xt, yt,
                                                               checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.npz"
    assert path.is_file() and (tmp_path / "checkpoint.json").is_file()
    assert not list(tmp_path.glob(".*tmp"))        # no temporary files left behind
    net, meta, arrays = load_checkpoint(path)
    for attr in ("weights", "delays", "pulse_times", "pre", "post", "tau", "theta"):
        np.testing.assert_array_equal(getattr(net, attr), getattr(clf.network_, attr))
    assert [p.name for p in net.populations] == [p.name for p in clf.network_.populations]
    assert meta["epoch"] == 2 and meta["adam_step"] == clf.optimizer_.t
    assert TrainConfig.from_dict(meta["config"]) == clf.config_
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 2
    loaded = SpikingClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_times(Xt), clf.predict_times(Xt))
    np.testing.assert_array_equal(loaded.optimizer_.m["weights"], clf.optimizer_.m["weights"])
    assert strip_time(loaded.history_) == strip_time(clf.history_)
    # Any network round-trips, not only layered ones.
    g = eventsim.Network()
    i = g.add_inputs(2)
    p = g.add_pulses([0.3, np.inf])
    a = g.add_population(3, tau=0.5, theta=1.2)
    g.connect([0, 1, 2, 5, 6, 4], [5, 6, 4, 6, 5, 4], [1.0, 2.0, 3.0, -1.0, 0.5, 0.2],
              [0, 0.1, 0, 0.2, 0, 0.3])
    save_checkpoint(tmp_path / "g.npz", g)
    g2, meta, _ = load_checkpoint(tmp_path / "g.npz")
    for attr in ("weights", "delays", "pulse_times", "pre", "post", "tau", "theta", "kind"):
        np.testing.assert_array_equal(getattr(g2, attr), getattr(g, attr))
    assert meta["config"] is None and i.size == 2 and p.size == 2 and a.size == 3


def test_resume_equals_uninterrupted(tmp_path):
    X, y, Xt, yt = small_xor()
    cfg = TrainConfig(epochs=4, seed=7, learning_rate=0.01)
    full = SpikingClassifier(cfg).fit(X, y, Xt, yt)
    part = SpikingClassifier(cfg.replace(epochs=2)).fit(X, y, Xt, yt, checkpoint_dir=tmp_path)
    assert part.n_epochs_ == 2
    resumed = SpikingClassifier(cfg).fit(X, y, Xt, yt, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.network_.weights, full.network_.weights)
    np.testing.assert_array_equal(resumed.network_.pulse_times, full.network_.pulse_times)
    for k in ("weights", "pulse_times"):
        np.testing.assert_array_equal(resumed.optimizer_.m[k], full.optimizer_.m[k])
        np.testing.assert_array_equal(resumed.optimizer_.v[k], full.optimizer_.v[k])
    assert resumed.optimizer_.t == full.optimizer_.t
    assert strip_time(resumed.history_) == strip_time(full.history_)
    # Resuming a finished run trains nothing more.
    again = SpikingClassifier(cfg).fit(X, y, Xt, yt, checkpoint_dir=tmp_path, resume="auto")
    np.testing.assert_array_equal(again.network_.weights, full.network_.weights)
    # A different configuration or different data is refused.
    with pytest.raises(ValueError, match="learning_rate"):
        SpikingClassifier(cfg.replace(learning_rate=0.5)).fit(X, y, checkpoint_dir=tmp_path,
                                                              resume=True)
    with pytest.raises(ValueError, match="different training data"):
        SpikingClassifier(cfg).fit(X[::-1], y[::-1], checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        SpikingClassifier(cfg).fit(X, y, checkpoint_dir=tmp_path / "none", resume=True)


def test_corrupt_or_truncated_checkpoint_gives_clear_error(tmp_path):
    X, y, _, _ = small_xor(n_train=20)
    SpikingClassifier(TrainConfig(epochs=1)).fit(X, y, checkpoint_dir=tmp_path)
    good = (tmp_path / "checkpoint.npz").read_bytes()
    cases = {
        "truncated.npz": good[: len(good) // 2],
        "empty.npz": b"",
        "garbage.npz": b"this is not a zip archive" * 10,
    }
    # Flip bytes in the middle (data corruption: CRC or format error).
    flipped = bytearray(good)
    for k in range(len(good) // 3, len(good) // 3 + 40):
        flipped[k] ^= 0xFF
    cases["flipped.npz"] = bytes(flipped)
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(path)
        with pytest.raises(CheckpointError, match=name):
            SpikingClassifier(TrainConfig(epochs=2)).fit(X, y, resume=path)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an eventsim checkpoint"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_checkpoint(tmp_path / "missing.npz")


def test_plot_training_curves(tmp_path):
    pytest.importorskip("matplotlib")
    from eventsim.plotting import plot_training_curves

    X, y, Xt, yt = small_xor(n_train=30, n_test=10)
    clf = SpikingClassifier(TrainConfig(epochs=2)).fit(X, y, Xt, yt)
    path = tmp_path / "curves.png"
    fig = plot_training_curves(clf.history_, path, title="xor")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves({"epoch": []})


# ---------------------------------------------------------------------------- beyond the paper
def small_and(n_train=60, seed=0):
    return tasks.make_task("and", n_train=n_train, n_test=20, seed=seed)


def test_new_options_validate_and_default_to_the_paper():
    b = TrainConfig.boolean()
    assert (b.min_weight, b.update_margin, b.margin_refinement, b.select_best, b.early_stop,
            b.n_starts) == (None, 0.0, False, False, False, 1)
    r = TrainConfig.boolean_fixed(seed=3)
    assert {k: getattr(r, k) for k in TrainConfig.FIXED} == TrainConfig.FIXED
    assert (r.learning_rate, r.learning_rate_pulses, r.min_weight, r.update_margin, r.n_starts) \
        == (0.01, 0.01, 0.0, 0.02, 5) and r.seed == 3
    # Everything else is Table 1.
    assert r.replace(**{k: getattr(b, k) for k in TrainConfig.FIXED}, seed=b.seed) == b
    assert TrainConfig.boolean_fixed(n_starts=2).n_starts == 2
    assert TrainConfig.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    for bad in (dict(min_weight=np.inf), dict(min_weight=True), dict(update_margin=-0.1),
                dict(update_margin=np.nan), dict(n_starts=0), dict(n_starts=1.5),
                dict(select_best="yes"), dict(early_stop=1)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


class _WatchedClassifier(SpikingClassifier):
    """Records the smallest weight before the first and after every update (a test
    spy, not part of the method)."""

    def fit(self, *args, **kwargs):
        self.seen = []
        return super().fit(*args, **kwargs)

    def _update(self, *args, **kwargs):
        if not self.seen:
            self.seen.append(float(self.network_.weights.min()))
        n = super()._update(*args, **kwargs)
        self.seen.append(float(self.network_.weights.min()))
        return n


@pytest.mark.parametrize("bound", [0.0, 0.05])
def test_min_weight_holds_at_init_and_after_every_step(bound):
    X, y, _, _ = small_xor(n_train=60, seed=1)
    cfg = TrainConfig(epochs=2, seed=2, learning_rate=0.05, learning_rate_pulses=0.05,
                      nonpulse_init_multiplier=2.0, pulse_init_multiplier=2.0)
    # The initialisation is clipped (also a given network, but not the caller's copy).
    raw = SpikingClassifier(cfg).init_network(2, 2)
    assert raw.weights.min() < bound
    fresh = _WatchedClassifier(cfg.replace(min_weight=bound)).fit(X, y)
    given = _WatchedClassifier(cfg.replace(min_weight=bound), network=raw).fit(X, y)
    assert fresh.seen[0] == given.seen[0] == bound and raw.weights.min() < bound
    np.testing.assert_array_equal(fresh.network_.weights, given.network_.weights)
    # From an initial network that satisfies the bound, unbounded training goes below it ...
    start = raw.copy()
    start.weights = np.maximum(raw.weights, bound)
    free = _WatchedClassifier(cfg, network=start).fit(X, y)
    assert min(free.seen[1:]) < bound
    # ... and the bounded one is clipped after every step (pulse synapses too).
    clipped = _WatchedClassifier(cfg.replace(min_weight=bound), network=start).fit(X, y)
    assert len(clipped.seen) == clipped.optimizer_.t + 1 > 20
    assert min(clipped.seen) == bound
    assert not np.array_equal(clipped.network_.weights, free.network_.weights)
    net = clipped.network_
    assert np.isin(net.pre, net.pulse_ids).any() and net.weights.min() >= bound


def test_update_margin_changes_training_only_when_positive():
    X, y, _, _ = small_and()
    base = TrainConfig.boolean_fixed(n_starts=1, select_best=False, margin_refinement=False,
                                        early_stop=False, epochs=4, seed=0)
    zero = SpikingClassifier(base.replace(update_margin=0.0)).fit(X, y)
    paper = SpikingClassifier(base.replace(update_margin=0.0, min_weight=None)).fit(X, y)
    assert not np.array_equal(zero.network_.weights, paper.network_.weights)
    # update_margin = 0 is the misclassified-only rule: the same as a config without it.
    again = SpikingClassifier(TrainConfig(**{**base.to_dict(), "update_margin": 0.0})).fit(X, y)
    np.testing.assert_array_equal(again.network_.weights, zero.network_.weights)
    margin = SpikingClassifier(base.replace(update_margin=0.02)).fit(X, y)
    assert sum(margin.history_["n_updates"]) > sum(zero.history_["n_updates"])
    assert not np.array_equal(margin.network_.weights, zero.network_.weights)
    # Running accuracy still counts correct examples as correct.
    assert max(margin.history_["running_accuracy"]) > 0


def test_margin_refinement_starts_after_perfect_training_accuracy():
    X, y, _, _ = small_and()
    cfg = TrainConfig.boolean_fixed(n_starts=1, early_stop=False, epochs=7, seed=0)
    plain = SpikingClassifier(cfg.replace(update_margin=0.0, margin_refinement=False)).fit(X, y)
    refined = SpikingClassifier(cfg).fit(X, y)
    hp, hr = plain.history_, refined.history_
    first = hp["train_accuracy"].index(1.0) + 1           # epoch 6 on this data
    assert 1 < first < cfg.epochs
    # Up to the first perfect epoch both are the same run ...
    for key in ("train_accuracy", "n_updates", "pulse_times", "train_margin"):
        assert hp[key][:first] == hr[key][:first], key
    # ... then the plain rule has nothing left to update, the margin rule has.
    assert hp["n_updates"][first] == 0 and hr["n_updates"][first] > 0
    assert refined.starts_[0]["refined"] and not plain.starts_[0]["refined"]
    # select_best keeps the first perfect epoch although refinement lost accuracy later.
    assert hr["train_accuracy"][-1] < 1.0
    assert refined.selection_["start_epoch"] == first
    assert refined.score(X, y) == 1.0


def test_select_best_keeps_the_best_epoch_by_accuracy_then_margin():
    X, y, _, _ = small_and(seed=1)
    cfg = TrainConfig.boolean_fixed(n_starts=1, early_stop=False, epochs=6, seed=1)
    nets = []
    clf = SpikingClassifier(cfg).fit(X, y, callback=lambda c, e: nets.append(
        (c.network_.weights.copy(), c.network_.pulse_times.copy())) and False)
    h = clf.history_
    scores = list(zip(h["train_accuracy"], h["train_margin"]))
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    assert best != len(scores) - 1                       # not simply the last epoch
    assert clf.selection_["epoch"] == best + 1
    np.testing.assert_array_equal(clf.network_.weights, nets[best][0])
    np.testing.assert_array_equal(clf.network_.pulse_times, nets[best][1])
    assert clf.score(X, y) == h["train_accuracy"][best]
    last = SpikingClassifier(cfg.replace(select_best=False)).fit(X, y)
    np.testing.assert_array_equal(last.network_.weights, nets[-1][0])


def test_early_stop_after_an_epoch_without_updates():
    X, y, _, _ = small_and()
    cfg = TrainConfig.boolean_fixed(n_starts=1, update_margin=0.0, epochs=9, seed=0)
    full = SpikingClassifier(cfg.replace(early_stop=False)).fit(X, y)
    stop = SpikingClassifier(cfg).fit(X, y)
    zero = full.history_["n_updates"].index(0) + 1
    assert zero < cfg.epochs and stop.n_epochs_ == zero
    np.testing.assert_array_equal(stop.network_.weights, full.network_.weights)
    # With margin refinement, reaching 100% switches the rule instead of stopping.
    refine = SpikingClassifier(cfg.replace(update_margin=0.02)).fit(X, y)
    assert refine.n_epochs_ > zero


def test_n_starts_keeps_the_best_start_by_training_accuracy():
    X, y, _, _ = small_and(seed=2)
    cfg = TrainConfig.boolean_fixed(n_starts=3, epochs=3, seed=2, n_threads=1)
    clf = SpikingClassifier(cfg).fit(X, y)
    assert [s["start"] for s in clf.starts_] == [0, 1, 2]
    accs = [s["train_accuracy"] for s in clf.starts_]
    assert max(accs) < 1.0 and len(set(accs)) > 1
    kept = accs.index(max(accs))
    assert clf.selection_["start"] == kept and clf.score(X, y) == max(accs)
    # Each start is the run with its own seed; start 0 is the plain seed.
    seeds = [s["seed"] for s in clf.starts_]
    assert seeds[0] == 2 and len(set(seeds)) == 3
    assert seeds[1] == int(np.random.SeedSequence([2, 77, 1]).generate_state(1)[0])
    alone = SpikingClassifier(cfg.replace(n_starts=1, seed=seeds[kept])).fit(X, y)
    np.testing.assert_array_equal(clf.network_.weights, alone.network_.weights)
    assert clf.history_["start"] == [0] * 3 + [1] * 3 + [2] * 3
    assert clf.history_["epoch"] == list(range(1, 10))
    # Deterministic, and independent of the thread count.
    again = SpikingClassifier(cfg.replace(n_threads=2)).fit(X, y)
    np.testing.assert_array_equal(again.network_.weights, clf.network_.weights)
    assert strip_time(again.history_) == strip_time(clf.history_)
    assert again.starts_ == clf.starts_


def test_n_starts_stops_at_the_first_start_that_fits_the_training_set():
    X, y, _, _ = small_and(seed=1)
    clf = SpikingClassifier(TrainConfig.boolean_fixed(n_starts=4, epochs=6, seed=1)).fit(X, y)
    accs = [s["train_accuracy"] for s in clf.starts_]
    assert accs[-1] == 1.0 and max(accs[:-1]) < 1.0 and len(accs) < 4
    assert clf.selection_["start"] == len(accs) - 1 and clf.score(X, y) == 1.0


def test_start_patience_ends_unfitted_starts_and_the_last_start_keeps_training():
    X, y, _, _ = small_and(seed=2)
    cfg = TrainConfig.boolean_fixed(n_starts=3, epochs=4, start_patience=2, seed=2,
                                       n_threads=1)
    clf = SpikingClassifier(cfg).fit(X, y)
    assert [s["train_accuracy"] < 1.0 for s in clf.starts_] == [True] * 3
    assert [s["epochs"] for s in clf.starts_] == [2, 2, 4]
    assert clf.history_["start"] == [0, 0, 1, 1, 2, 2, 2, 2]
    # A start that gives up is the same run as the first epochs of that start alone.
    short = SpikingClassifier(cfg.replace(n_starts=1, start_patience=None, epochs=2)).fit(X, y)
    assert clf.starts_[0]["train_accuracy"] == short.starts_[0]["train_accuracy"]


def test_shared_budget_caps_the_epochs_of_all_starts_together():
    X, y, _, _ = small_and(seed=2)
    cfg = TrainConfig.boolean_fixed(n_starts=4, epochs=5, start_patience=2, seed=2,
                                       shared_budget=True, n_threads=1)
    clf = SpikingClassifier(cfg).fit(X, y)
    assert clf.n_epochs_ == 5 and len(clf.history_["epoch"]) == 5
    assert [s["epochs"] for s in clf.starts_] == [2, 2, 1]
    # Without patience the first start takes the whole budget.
    one = SpikingClassifier(cfg.replace(start_patience=None)).fit(X, y)
    assert one.n_epochs_ == 5 and [s["epochs"] for s in one.starts_] == [5]


@pytest.mark.parametrize("bad", [dict(start_patience=0), dict(start_patience=1.5),
                                 dict(start_patience=True), dict(shared_budget=1)])
def test_start_options_are_checked(bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=key):
        TrainConfig.boolean_fixed(**bad)


def _stop_at(epoch):
    return lambda clf, e: e["epoch"] == epoch


# Interrupted within a start, right after a start ended (before the next one
# begins), and several times.
@pytest.mark.parametrize("stop_epochs", [(2,), (3, 7)])
def test_resume_with_starts_and_selection_equals_uninterrupted(tmp_path, stop_epochs):
    X, y, Xt, yt = small_and(seed=2)
    cfg = TrainConfig.boolean_fixed(n_starts=4, epochs=3, seed=2, n_threads=1)
    full = SpikingClassifier(cfg).fit(X, y, Xt, yt)
    for stop in stop_epochs:       # interrupt, possibly several times, then finish
        part = SpikingClassifier(cfg).fit(X, y, Xt, yt, checkpoint_dir=tmp_path, resume="auto",
                                          callback=_stop_at(stop))
        assert part.n_epochs_ == stop
    resumed = SpikingClassifier(cfg).fit(X, y, Xt, yt, checkpoint_dir=tmp_path, resume=True)
    for k in ("weights", "pulse_times"):
        np.testing.assert_array_equal(getattr(resumed.network_, k), getattr(full.network_, k))
        np.testing.assert_array_equal(resumed.optimizer_.m[k], full.optimizer_.m[k])
        np.testing.assert_array_equal(resumed.optimizer_.v[k], full.optimizer_.v[k])
    assert resumed.optimizer_.t == full.optimizer_.t
    assert strip_time(resumed.history_) == strip_time(full.history_)
    assert resumed.selection_ == full.selection_ and resumed.starts_ == full.starts_
    # The checkpoint's network is the selected one, and so is a loaded classifier's.
    loaded = SpikingClassifier.load(tmp_path / "checkpoint.npz")
    np.testing.assert_array_equal(loaded.network_.weights, full.network_.weights)
    assert loaded.config_ == full.config_ and loaded.selection_ == full.selection_
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    assert meta["config"]["n_starts"] == 4 and meta["config"]["min_weight"] == 0.0
    assert meta["train_state"]["start"] == full.selection_["start"] or \
        meta["train_state"]["start"] == len(full.starts_) - 1
    # A different option is refused.
    with pytest.raises(ValueError, match="update_margin"):
        SpikingClassifier(cfg.replace(update_margin=0.05)).fit(X, y, checkpoint_dir=tmp_path,
                                                               resume=True)


def test_save_after_fit_then_resume_with_more_epochs(tmp_path):
    X, y, _, _ = small_and(seed=1)
    cfg = TrainConfig.boolean_fixed(n_starts=1, early_stop=False, epochs=3, seed=1)
    clf = SpikingClassifier(cfg).fit(X, y)
    clf.save(tmp_path / "c.npz")
    more = SpikingClassifier(cfg.replace(epochs=5)).fit(X, y, resume=tmp_path / "c.npz")
    full = SpikingClassifier(cfg.replace(epochs=5)).fit(X, y)
    np.testing.assert_array_equal(more.network_.weights, full.network_.weights)
    assert strip_time(more.history_) == strip_time(full.history_)


def test_checkpoint_without_the_new_fields_still_loads_and_resumes(tmp_path):
    """Checkpoints written before these options existed: defaults, same training."""
    X, y, _, _ = small_xor(n_train=60)
    cfg = TrainConfig(epochs=3, seed=5, learning_rate=0.01)
    full = SpikingClassifier(cfg).fit(X, y)
    SpikingClassifier(cfg.replace(epochs=2)).fit(X, y, checkpoint_dir=tmp_path)
    with np.load(tmp_path / "checkpoint.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")[()]))
    for name in ("min_weight", "update_margin", "margin_refinement", "select_best", "early_stop",
                 "n_starts"):
        del meta["config"][name]
    del meta["train_state"]
    for key in ("start", "start_epoch", "train_margin"):
        del meta["history"][key]
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps(meta)), **arrays)
    loaded = SpikingClassifier.load(old)
    assert loaded.config_ == cfg.replace(epochs=2) and loaded.n_epochs_ == 2
    assert loaded.history_["start"] == [0, 0] and loaded.history_["start_epoch"] == [1, 2]
    resumed = SpikingClassifier(cfg).fit(X, y, resume=old)
    np.testing.assert_array_equal(resumed.network_.weights, full.network_.weights)
    np.testing.assert_array_equal(resumed.network_.pulse_times, full.network_.pulse_times)
    assert resumed.history_["train_accuracy"] == full.history_["train_accuracy"]


def test_yin_yang_preset_and_normal_init():
    c = TrainConfig.yin_yang(seed=3)
    assert c.loss == "goltz" and c.n_hidden == (120,) and c.n_pulses == 0
    assert c.init_mean == (1.5, 0.5) and c.init_std == (0.8, 0.8)
    clf = SpikingClassifier(c)
    net = clf.init_network(5, 3)
    w1 = net.weight_matrix(net["input"], net["hidden0"])
    w2 = net.weight_matrix(net["hidden0"], net["output"])
    # 600 and 360 draws: the sample moments are within a few standard errors
    assert abs(w1.mean() - 1.5) < 0.15 and abs(w1.std() - 0.8) < 0.1
    assert abs(w2.mean() - 0.5) < 0.15 and abs(w2.std() - 0.8) < 0.1
    np.testing.assert_array_equal(SpikingClassifier(c).init_network(5, 3).weights, net.weights)
    with pytest.raises(ValueError, match="init_mean and init_std must be given together"):
        TrainConfig(init_mean=(1.0, 1.0))
    with pytest.raises(ValueError, match="one value per layer"):
        TrainConfig(init_mean=(1.0,), init_std=(1.0,))
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="mse")
    with pytest.raises(ValueError, match="goltz_xi must be > 0"):
        TrainConfig(goltz_xi=0.0)


def test_goltz_loss_trains_yin_yang_subset():
    from eventsim import tasks

    X, y = tasks.load_yin_yang("train", n_samples=300)
    clf = SpikingClassifier(TrainConfig.yin_yang(epochs=8, n_threads=1, batch_size=30,
                                                 learning_rate=5e-3))
    before = SpikingClassifier(TrainConfig.yin_yang()).init_network(5, 3)
    clf.fit(X, y)
    acc0 = float(np.mean(predict_classes(eventsim.simulate(before, X).times[:, -3:]) == y))
    assert clf.history_["train_accuracy"][-1] > max(0.55, acc0 + 0.1)


def test_lr_decay_and_weight_decay():
    X, y = tasks.make_xor(60, rng=0)
    base = TrainConfig.boolean(epochs=3, update_on_misclassified_only=False, n_threads=1)
    seen = []
    clf = SpikingClassifier(base.replace(lr_decay=0.5))
    clf.fit(X, y, callback=lambda c, e: seen.append(c.optimizer_.learning_rates["weights"]))
    np.testing.assert_allclose(seen, [1e-3, 5e-4, 2.5e-4])
    # decoupled weight decay shrinks the weights relative to no decay, same gradients path
    a = SpikingClassifier(base.replace(epochs=1, learning_rate=0.0)).fit(X, y).network_.weights
    b = SpikingClassifier(base.replace(epochs=1, learning_rate=0.0, weight_decay=1.0)).fit(
        X, y).network_.weights
    np.testing.assert_array_equal(a, b)          # lr 0: decay multiplies by 1 - 0
    c = SpikingClassifier(base.replace(epochs=1, weight_decay=50.0)).fit(X, y).network_.weights
    d = SpikingClassifier(base.replace(epochs=1)).fit(X, y).network_.weights
    assert np.abs(c).sum() < np.abs(d).sum()
    with pytest.raises(ValueError, match="lr_decay must lie in"):
        TrainConfig(lr_decay=0.0)
    with pytest.raises(ValueError, match="weight_decay must be finite"):
        TrainConfig(weight_decay=-1.0)


def test_mnist_goltz_preset():
    c = TrainConfig.mnist_goltz()
    assert c.n_hidden == (340,) and c.loss == "goltz" and c.n_pulses == 0
    assert c.decay_constant == 1.0 and c.lr_decay < 1


def test_penalty_scope_outputs_only_touches_output_synapses():
    net = eventsim.feedforward(2, [3], 2, n_pulses=0, rng=0)
    net.weights = np.full(net.n_synapses, -1.0)        # everything silent
    X, y = tasks.make_xor(8, rng=1)
    cfg = TrainConfig.boolean(epochs=1, n_pulses=0, batch_size=8, learning_rate=0.1,
                              update_on_misclassified_only=False, penalty_no_spike=1.0,
                              penalty_scope="outputs", n_threads=1)
    after = SpikingClassifier(cfg, network=net).fit(X, y).network_
    into_out = net.synapse_ids(net["hidden0"], net["output"])
    into_hidden = net.synapse_ids(net["input"], net["hidden0"])
    assert (after.weights[into_out] > -1.0).all()
    np.testing.assert_array_equal(after.weights[into_hidden], -1.0)
    full = SpikingClassifier(cfg.replace(penalty_scope="all"), network=net).fit(X, y).network_
    assert (full.weights[into_hidden] > -1.0).all()
    with pytest.raises(ValueError, match="penalty_scope"):
        TrainConfig(penalty_scope="hidden")


# ---------------------------------------------------------------------------- layout
def _internal_imports():
    """Module -> the eventsim modules it imports (anywhere in the file), from the
    source.  Importing ``a.b.c`` from outside package ``a.b`` also runs ``a.b``'s
    ``__init__``; the top package ``eventsim`` is left out, since every module
    runs it."""
    import ast

    root = pathlib.Path(eventsim.__file__).parent

    def name_of(path):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    files = {name_of(p): p for p in root.rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                    if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                targets.update(f"{target}.{a.name}" for a in node.names
                               if f"{target}.{a.name}" in files)
                targets.add(target)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        deps = set()
        for t in targets & set(files):
            deps.add(t)
            parts = t.split(".")
            deps.update(".".join(parts[:i]) for i in range(2, len(parts))
                        if not mod.startswith(".".join(parts[:i]) + "."))
        deps -= {"eventsim", mod}
        graph[mod] = deps
    return graph


def test_training_modules_import_without_cycles():
    graph = _internal_imports()
    assert {"eventsim.training.config", "eventsim.training.classifier",
            "eventsim.training.checkpoint", "eventsim.training.adam",
            "eventsim.training.selection", "eventsim.losses"} <= set(graph)
    assert not any(m.startswith("eventsim.train") for m in graph["eventsim.losses"])
    # Only the training side is checked (the engine modules are another matter).
    mine = [m for m in graph if m.startswith(("eventsim.train", "eventsim.losses"))]
    for mod in mine:
        seen, todo = set(), list(graph[mod])
        while todo:
            dep = todo.pop()
            assert dep != mod, f"{mod} imports itself through its dependencies"
            if dep not in seen:
                seen.add(dep)
                todo.extend(graph.get(dep, ()))


@pytest.mark.parametrize("module", ["eventsim.training.config", "eventsim.training.adam",
                                    "eventsim.training.checkpoint", "eventsim.losses",
                                    "eventsim.training.classifier", "eventsim.train"])
def test_each_training_module_imports_alone(module):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_fit_state_is_a_dataclass_that_round_trips():
    from eventsim.training.selection import FitState, Score

    st = FitState(start=1, start_epoch=3, current=Score(7, 3, 0.5, -0.1),
                  best=Score(4, 4, 0.75, 0.01, start=0), starts=[{"start": 0}])
    again = FitState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert again == st and isinstance(again.best, Score)
    with pytest.raises(ValueError, match="unknown training state"):
        FitState.from_dict({"nonsense": 1})


def test_evaluate_reports_the_margin():
    """A 100% that hinges on a tiny spike-time lead must be visible to the user."""
    from eventsim.training.metrics import example_margins

    X, y, _, _ = small_xor(n_train=40)
    clf = SpikingClassifier(TrainConfig(epochs=1, n_threads=1)).fit(X, y)
    stats = clf.evaluate(X, y)
    expected = example_margins(clf.predict_times(X), np.asarray(y)).min()
    assert stats["margin"] == expected


def test_historical_import_paths_keep_working():
    import eventsim.train as old
    import eventsim.training as new

    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name), name
    assert eventsim.SpikingClassifier is new.SpikingClassifier
    assert eventsim.TrainConfig is new.TrainConfig
    assert eventsim.load_checkpoint is new.load_checkpoint
    assert eventsim.save_checkpoint is new.save_checkpoint
    assert old.cross_entropy is eventsim.losses.cross_entropy


def test_boolean_reliable_reaches_a_real_margin():
    # Before: 100% with the outputs tied (margin 3.7e-5, predict_proba ~[0.5, 0.5]).
    X, y, _, _ = tasks.make_task("xor", seed=0)
    clf = SpikingClassifier(TrainConfig.boolean_reliable(seed=0, n_threads=1)).fit(X, y)
    stats = clf.evaluate(X, y)
    assert stats["accuracy"] == 1.0
    assert stats["margin"] >= 0.05
    assert stats["loss"] < 0.1 * np.log(2)
    p = clf.predict_proba(X)[np.arange(len(y)), y]
    assert p.min() > 0.9


def test_rate_control_shifts_hidden_inputs_towards_the_target_activity():
    net = eventsim.feedforward(2, [3, 4], 2, n_pulses=1, rng=0, nonpulse_init_multiplier=2.0)
    X, y = tasks.make_xor(8, rng=1)
    cfg = TrainConfig.boolean(epochs=1, batch_size=8, learning_rate=0.01,
                              update_on_misclassified_only=False, n_threads=1)
    assert cfg.rate_control == 0.0 and cfg.rate_target == 0.5          # off by default
    plain = SpikingClassifier(cfg, network=net).fit(X, y).network_.weights
    ctrl = SpikingClassifier(cfg.replace(rate_control=3.0, rate_target=0.25),
                             network=net).fit(X, y).network_.weights
    # One step over the whole batch: the difference is 3 * lr * (0.25 - f) on every
    # synapse into a hidden neuron, f = fraction of that layer active at the start.
    t = eventsim.simulate(net, X, n_threads=1).times
    want = np.zeros(net.n_synapses)
    for name in ("hidden0", "hidden1"):
        f = np.isfinite(t[:, net[name].ids]).mean()
        want[np.isin(net.post, net[name].ids)] = 3.0 * 0.01 * (0.25 - f)
    np.testing.assert_allclose(ctrl - plain, want, atol=1e-12)
    assert np.isin(net.post[want == 0], net["output"].ids).all()
    for bad in (dict(rate_control=-1.0), dict(rate_control=np.nan), dict(rate_target=0.0),
                dict(rate_target=1.0)):
        with pytest.raises(ValueError, match="rate_"):
            TrainConfig(**bad)


def test_rate_control_keeps_a_deep_dale_network_from_saturating():
    rng = np.random.default_rng(0)
    X = np.where(rng.random((64, 30)) < 0.3, rng.random((64, 30)) * 0.05, np.inf)
    y = rng.integers(0, 3, 64)
    net = eventsim.dale_network(30, 3, n_layers=3, n_excitatory=24, n_inhibitory=8,
                                weight_scale=2.0, inhibition=0.0, input_multiplier=3.0, rng=1)
    layers = [net[f"hidden{i}"].ids for i in range(3)]
    start = eventsim.simulate(net, X, n_threads=1).times
    assert all(np.isfinite(start[:, ids]).mean() > 0.99 for ids in layers)   # saturated
    cfg = TrainConfig(loss="goltz", epochs=15, batch_size=16, learning_rate=2e-3, n_pulses=0,
                      n_hidden=(32,) * 3, update_on_misclassified_only=False,
                      penalty_no_spike=0.0, rate_target=0.5, n_threads=1, eval_train=False)
    free = SpikingClassifier(cfg, network=net).fit(X, y).network_
    t = eventsim.simulate(free, X, n_threads=1).times
    assert np.isfinite(t[:, layers[2]]).mean() > 0.99                  # stays saturated
    after = SpikingClassifier(cfg.replace(rate_control=10.0), network=net).fit(X, y).network_
    assert after.dale_violations().size == 0
    t = eventsim.simulate(after, X, n_threads=1).times
    for ids in layers[1:]:
        assert 0.3 < np.isfinite(t[:, ids]).mean() < 0.7
