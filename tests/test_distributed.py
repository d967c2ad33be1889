"""eventsim.distributed: data-parallel runs on a Dask LocalCluster equal the
single-process ones (bit for bit in the default exact mode, to 1e-12 otherwise)."""

import sys

import numpy as np
import pytest

pytest.importorskip("distributed")

import eventsim  # noqa: E402
from eventsim import distributed as ed  # noqa: E402
from eventsim import tasks  # noqa: E402
from eventsim.training import SpikingClassifier, TrainConfig  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    # In-process workers start in a fraction of a second; the engine releases the
    # GIL, so they still run in parallel.  (The benchmark uses processes.)
    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0")
    client = Client(lc)
    yield client
    client.close()
    lc.close()


@pytest.fixture(scope="module")
def net_and_inputs():
    rng = np.random.default_rng(3)
    net = eventsim.feedforward(10, [20], 3, n_pulses=2, rng=rng)
    x = rng.uniform(0.0, 1.0, (100, 10))
    x[rng.random(x.shape) < 0.1] = np.inf
    return net, x


def _same(a, b, tol=0.0):
    assert a.shape == b.shape
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    return bool(np.all(both_inf | (np.abs(a - b) <= tol)))


def test_simulate_equals_single_process(cluster, net_and_inputs):
    net, x = net_and_inputs
    local = eventsim.simulate(net, x, record_tape=True)
    remote = ed.simulate(cluster, net, x, record_tape=True)
    assert np.array_equal(local.times, remote.times)
    assert np.array_equal(local.n_events, remote.n_events)
    # The joined tape works with the local backward pass and gives its gradients.
    dl = np.random.default_rng(0).normal(size=(x.shape[0], 3))
    out = net["output"].ids
    g1 = eventsim.backward(net, local, dl, outputs=out, penalty_no_spike=0.1)
    g2 = eventsim.backward(net, remote, dl, outputs=out, penalty_no_spike=0.1)
    assert np.array_equal(g1.weights, g2.weights)
    assert np.array_equal(g1.pulse_times, g2.pulse_times)


@pytest.mark.parametrize("exact", [True, False])
def test_gradient_of_a_batch_equals_single_process(cluster, net_and_inputs, exact):
    net, x = net_and_inputs
    out = net["output"].ids
    dl = np.random.default_rng(1).normal(size=(x.shape[0], 3))
    # Rows out of order and across the shard boundary, so that the exact mode has to
    # simulate a chunk again on one worker.
    rows = np.array([1, 5, 17, 30, 31, 32, 33, 40, 49, 50, 51, 52, 60, 61, 62, 63, 64,
                     65, 66, 67, 70, 99, 2, 3])
    kw = dict(outputs=out, clip_derivative=5.0, penalty_no_spike=0.1)
    ref = eventsim.backward(net, eventsim.simulate(net, x, record_tape=True).select(rows),
                            dl[rows], **kw)
    backend = ed.DaskBackend(cluster, exact=exact, local_below=0)
    res = backend.simulate(net, x, record_tape=True)
    assert len(res.bounds) == 3            # two shards
    g = backend.gradient(net, res, rows, dl[rows], **kw)
    tol = 0.0 if exact else 1e-12
    for k in ("weights", "delays", "theta", "pulse_times", "input_times"):
        assert _same(getattr(ref, k), getattr(g, k), tol), k
    # Only the gradients asked for come back.
    g = backend.gradient(net, res, rows, dl[rows], keys=("pulse_times",), outputs=out)
    assert g.weights is None and g.pulse_times.shape == (net.n_pulses,)


def test_value_and_grad_equals_single_process(cluster, net_and_inputs):
    net, x = net_and_inputs
    out = net["output"].ids

    def loss_fn(t):
        t = np.where(np.isfinite(t), t, 10.0)
        return float((t ** 2).sum()), 2 * t

    loss1, g1, _ = eventsim.value_and_grad(net, x, loss_fn, outputs=out)
    loss2, g2, res = ed.value_and_grad(cluster, net, x, loss_fn, outputs=out,
                                       backend=ed.DaskBackend(cluster, local_below=0))
    assert loss1 == loss2
    assert np.array_equal(g1.weights, g2.weights)
    assert isinstance(res, ed.ShardedResult)


def _xor():
    return tasks.make_task("xor", n_train=160, n_test=40, seed=0)


@pytest.mark.parametrize("config,n", [
    # Every example updates, batches of 40: two shards per batch.
    (TrainConfig.boolean_reliable(seed=0, epochs=2, n_starts=1, batch_size=40), 160),
    # The paper's loop: windows of examples forward, updates from misclassified ones
    # (a round trip per window: fewer examples).
    (TrainConfig.boolean(seed=1, epochs=1), 40),
])
def test_training_steps_equal_single_process(cluster, config, n):
    X, y, Xt, yt = _xor()
    X, y = X[:n], y[:n]
    ref = SpikingClassifier(config).fit(X, y, Xt, yt)
    clf = SpikingClassifier(config)
    ed.fit(cluster, clf, X, y, Xt, yt, backend=ed.DaskBackend(cluster, local_below=0))
    assert clf.history_["n_updates"] == ref.history_["n_updates"]
    assert np.array_equal(clf.network_.weights, ref.network_.weights)
    assert np.array_equal(clf.network_.pulse_times, ref.network_.pulse_times)
    assert clf.history_["loss"] == ref.history_["loss"]
    assert clf.backend is None          # fit() leaves the classifier as it was


def test_training_inexact_mode_within_1e12(cluster):
    X, y, _, _ = _xor()
    config = TrainConfig.boolean_reliable(seed=2, epochs=1, n_starts=1, batch_size=80)
    ref = SpikingClassifier(config).fit(X, y)
    clf = ed.fit(cluster, SpikingClassifier(config), X, y,
                 backend=ed.DaskBackend(cluster, exact=False, local_below=0))
    assert np.abs(clf.network_.weights - ref.network_.weights).max() <= 1e-12
    assert np.abs(clf.network_.pulse_times - ref.network_.pulse_times).max() <= 1e-12


def test_evaluate_and_predict_equal_single_process(cluster):
    X, y, Xt, yt = _xor()
    clf = SpikingClassifier(TrainConfig.boolean_reliable(seed=0, epochs=1, n_starts=1))
    clf.fit(X, y)
    backend = ed.DaskBackend(cluster, local_below=0)
    assert ed.evaluate(cluster, clf, Xt, yt, backend=backend) == clf.evaluate(Xt, yt)
    assert np.array_equal(ed.predict(cluster, clf, Xt, backend=backend), clf.predict(Xt))


def test_small_batches_run_locally_with_the_same_result(cluster, net_and_inputs):
    net, x = net_and_inputs
    backend = ed.DaskBackend(cluster)          # local_below=64
    res = backend.simulate(net, x[:10], record_tape=True)
    assert isinstance(res, eventsim.SimulationResult)
    g = backend.gradient(net, res, [0, 3], np.ones((2, 3)), outputs=net["output"].ids)
    ref = eventsim.backward(net, eventsim.simulate(net, x[:10], record_tape=True).select([0, 3]),
                            np.ones((2, 3)), outputs=net["output"].ids)
    assert np.array_equal(g.weights, ref.weights)


def test_worker_exception_surfaces(cluster, net_and_inputs):
    net, x = net_and_inputs
    with pytest.raises(eventsim.EventBudgetExceeded) as exc:
        ed.simulate(cluster, net, x, max_events=1)
    # The worker's own exception, with its message.
    assert type(exc.value) is eventsim.EventBudgetExceeded
    with pytest.raises(eventsim.EventBudgetExceeded) as local:
        eventsim.simulate(net, x[:1], max_events=1)
    assert str(exc.value) == str(local.value)


def test_bad_inputs(cluster, net_and_inputs):
    net, x = net_and_inputs
    with pytest.raises(ValueError, match="columns"):
        ed.simulate(cluster, net, x[:, :5])
    with pytest.raises(ValueError, match="spike trains"):
        ed.simulate(cluster, net, eventsim.SpikeTrains.from_first_spikes(x[:2]))
    backend = ed.DaskBackend(cluster, local_below=0)
    res = backend.simulate(net, x, record_tape=True)
    with pytest.raises(ValueError, match="rows"):
        backend.gradient(net, res, [100], np.ones((1, 3)), outputs=net["output"].ids)
    with pytest.raises(ValueError, match="keys"):
        backend.gradient(net, res, [0], np.ones((1, 3)), keys=("bias",))
    with pytest.raises(TypeError, match="DaskBackend.simulate"):
        backend.gradient(net, object(), [0], np.ones((1, 3)))
    with pytest.raises(ValueError, match="n_shards") as exc:
        ed.DaskBackend(cluster, n_shards=0)
    assert "n_shards must be >= 1" in str(exc.value)


def test_unreachable_scheduler_times_out_naming_the_address():
    address = "tcp://127.0.0.1:9"
    with pytest.raises(TimeoutError) as exc:
        ed.connect(address, timeout=0.5)
    assert address in str(exc.value) and "0.5 s" in str(exc.value)


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError) as exc:
        ed.connect()
    assert 'pip install "eventsim[dask]"' in str(exc.value)


def test_cli_train_and_evaluate_with_scheduler(cluster, tmp_path, capsys):
    from eventsim.cli import main

    address = cluster.scheduler.address
    args = ["train", "--task", "xor", "--epochs", "1", "--n-train", "100", "--n-test", "20",
            "--preset", "boolean-reliable", "--n-starts", "1", "--no-progress", "--quiet"]
    assert main(args + ["--checkpoint-dir", str(tmp_path / "a")]) == 0
    local = capsys.readouterr().out
    assert main(args + ["--checkpoint-dir", str(tmp_path / "b"), "--scheduler", address]) == 0
    remote = capsys.readouterr().out
    assert "final:" in remote and remote == local
    ev = ["evaluate", "--network", str(tmp_path / "a" / "checkpoint.npz"), "--task", "xor",
          "--n-test", "20", "--json"]
    assert main(ev) == 0
    local = capsys.readouterr().out
    assert main(ev + ["--scheduler", address]) == 0
    assert capsys.readouterr().out == local
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        assert main(ev + ["--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "tcp://127.0.0.1:9" in capsys.readouterr().err


def test_tape_kept_right_when_the_workers_network_changes(cluster, net_and_inputs):
    net, x = net_and_inputs
    net = net.copy()
    out = net["output"].ids
    dl = np.ones((x.shape[0], 3))
    backend = ed.DaskBackend(cluster, local_below=0)
    first = backend.simulate(net, x, record_tape=True)
    w = net.weights.copy()
    net.weights = w * 1.1          # the workers' networks now hold other weights
    backend.simulate(net, x, record_tape=True)
    net.weights = w
    g = backend.gradient(net, first, np.arange(x.shape[0]), dl, outputs=out)
    ref = eventsim.backward(net, eventsim.simulate(net, x, record_tape=True), dl, outputs=out)
    assert np.array_equal(g.weights, ref.weights)


def test_a_moved_shard_is_simulated_again(net_and_inputs):
    import pickle

    net, x = net_and_inputs
    out = net["output"].ids
    base = pickle.dumps(net)
    shard = ed._forward("k", base, (net.weights.copy(), net.pulse_times.copy()), x[:20],
                        True, np.inf, None, True)
    moved = pickle.loads(pickle.dumps(shard))
    assert moved.cached.net is not shard.cached.net
    kw = {"outputs": out, "clip_derivative": None}
    pieces = [(np.arange(16), np.ones((16, 3))), (np.arange(16, 20), np.ones((4, 3)))]
    a = ed._shard_gradients(shard, pieces, kw, ("weights",))
    b = ed._shard_gradients(moved, pieces, kw, ("weights",))
    assert all(np.array_equal(p[0]["weights"], q[0]["weights"]) for p, q in zip(a, b))


def test_the_first_failing_example_is_reported_as_locally(cluster, net_and_inputs):
    net, x = net_and_inputs
    x = x.copy()
    x[:60] = np.inf                 # silent: the first 60 examples need almost no events
    n_events = eventsim.simulate(net, x).n_events
    budget = int(n_events[:60].max())
    assert (n_events[60:] > budget).any()
    with pytest.raises(eventsim.EventBudgetExceeded) as local:
        eventsim.simulate(net, x, max_events=budget)
    with pytest.raises(eventsim.EventBudgetExceeded) as remote:
        ed.simulate(cluster, net, x, max_events=budget)
    assert str(remote.value) == str(local.value)
    first = 60 + int(np.flatnonzero(n_events[60:] > budget)[0])   # in the second shard
    assert str(local.value).startswith(f"example {first} ")


def test_empty_selection_gives_zero_gradients(cluster, net_and_inputs):
    net, x = net_and_inputs
    backend = ed.DaskBackend(cluster, local_below=0)
    res = backend.simulate(net, x, record_tape=True)
    g = backend.gradient(net, res, [], np.zeros((0, 3)), outputs=net["output"].ids)
    assert not g.weights.any() and g.weights.shape == (net.n_synapses,)
    assert g.input_times.shape == (0, net.n_inputs)
