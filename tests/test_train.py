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
                            TrainConfig, _select_examples, accuracy, cross_entropy,
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
def test_select_examples_equals_resimulation(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=1, pulse_init_multiplier=2,
                               nonpulse_init_multiplier=2, rng=2)
    X = rng.uniform(0, 1, (9, 3))
    out = net["output"].ids
    res = eventsim.simulate(net, X, record_tape=True)
    for rows in (np.array([1, 4, 5, 8]), np.array([2, 3, 4]), np.array([8])):
        dl = rng.normal(size=(rows.size, 2))
        a = eventsim.backward(net, _select_examples(res, rows), dl, outputs=out,
                              clip_derivative=50.0, penalty_no_spike=0.7)
        sub = eventsim.simulate(net, X[rows], record_tape=True)
        b = eventsim.backward(net, sub, dl, outputs=out, clip_derivative=50.0,
                              penalty_no_spike=0.7)
        for f in dataclasses.fields(a):
            np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))


def naive_train(X, y, cfg):
    """Straightforward reference of the training loop: batch by batch, re-simulating."""
    net = SpikingClassifier(cfg).init_network(X.shape[1], 2)
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
            pred = predict_classes(eventsim.simulate(net, X[idx]).times[:, out])
            use = idx[pred != y[idx]] if cfg.update_on_misclassified_only else idx
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
            net.pulse_times = np.maximum(net.pulse_times + upd["p"], 0.0)
    return net, t


@pytest.mark.parametrize("batch_size,misclassified_only", [(1, True), (3, True), (4, False)])
def test_trainer_matches_naive_loop(batch_size, misclassified_only):
    X, y, _, _ = small_xor(n_train=90, n_test=1, seed=1)
    cfg = TrainConfig(batch_size=batch_size, update_on_misclassified_only=misclassified_only,
                      epochs=3, seed=4, learning_rate=0.02, learning_rate_pulses=0.02,
                      nonpulse_init_multiplier=1.0, pulse_init_multiplier=1.0)
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
    assert "epoch 1/1" in capsys.readouterr().err


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
