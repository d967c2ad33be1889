"""Reading and writing networks in the file format of the reference implementation.

The reference C++ implementation of Comsa et al. (Google's *ihmehimmeli*,
``tempcoding/tempcoder.cc``: ``Tempcoder::WriteNetworkToFile`` and
``Tempcoder::LoadTempcoderFromFile``) stores a layered alpha-kernel network as
one line of space-separated values::

    pulses_per_layer THRESHOLD N_LAYERS SIZE_0 ... SIZE_{L-1} N_PULSES
        PULSES[0][0..P-1] ... PULSES[L-1][0..P-1]
        WEIGHTS[layer][post][pre] ...

* ``pulses_per_layer`` is a version tag.  Files of the original version have
  no tag and a single set of ``N_PULSES`` pulse times, shared by all layers.
* ``SIZE_0`` is the number of inputs, ``SIZE_{L-1}`` the number of outputs.
* Pulse set ``l`` feeds layer ``l + 1``; the last set (``l = L - 1``) feeds no
  layer (the reference keeps it for a possible recurrent connection).
* Weights come layer by layer (``layer = 0 .. L-2``, from layer ``layer`` to
  layer ``layer + 1``), then by postsynaptic neuron, then by presynaptic neuron:
  first the ``SIZE_layer`` neurons of the previous layer, then its ``N_PULSES``
  pulses.
* One threshold is shared by all neurons.  The decay constant of the alpha
  kernel is **not stored**; the reference takes it from a command-line flag, and
  :func:`load_ihmehimmeli` from its ``decay_constant`` argument.  All synaptic
  delays are zero.

Neurons that never spike are "kNoSpike" (the largest double) in the reference;
in eventsim they are ``inf``.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np

from ._atomic import atomic_write

from .network import Network

__all__ = ["IhmehimmeliNetwork", "read_ihmehimmeli", "load_ihmehimmeli",
           "save_ihmehimmeli", "to_ihmehimmeli", "from_ihmehimmeli"]

VERSION_TAG = "pulses_per_layer"

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"\d+\Z")
_BAD_CHAR = re.compile(r"[^0-9eE+\-.\s]")


@dataclasses.dataclass
class IhmehimmeliNetwork:
    """The raw contents of a reference network file.

    Attributes
    ----------
    threshold : float
        Firing threshold of every neuron.
    layer_sizes : list of int
        Inputs, hidden layers, outputs (pulses not counted).
    pulses : ndarray, shape (n_layers, n_pulses)
        Pulse times; row ``l`` feeds layer ``l + 1``, the last row feeds nothing.
    weights : list of ndarray
        ``weights[l]`` has shape ``(layer_sizes[l + 1], layer_sizes[l] + n_pulses)``:
        ``[post, pre]``, the last ``n_pulses`` columns from pulse set ``l``.
    pulses_per_layer : bool
        Whether the file had the ``pulses_per_layer`` version tag (if not, the
        file held one set of pulses, copied to every row of ``pulses``).
    """

    threshold: float
    layer_sizes: list
    pulses: np.ndarray
    weights: list
    pulses_per_layer: bool = True

    @property
    def n_pulses(self) -> int:
        return int(self.pulses.shape[1])


# Files users pass by mistake, recognised by their first bytes, so the error can say
# what the file is rather than where its first non-text byte sits.
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an eventsim checkpoint .npz? those are read by "
                     "eventsim.load_checkpoint)"),
    (b"\x93NUMPY", "a numpy .npy array"),
    (b"\x1f\x8b", "a gzip-compressed file (decompress it first)"),
)


def _fail(path, msg):
    raise ValueError(f"{path}: {msg}")


def _parse_int(path, tokens, pos, what, minimum):
    if pos >= len(tokens):
        _fail(path, f"truncated: the file ends before {what} (value #{pos + 1})")
    tok = tokens[pos]
    if not _INTEGER.match(tok):
        _fail(path, f"{what} must be an integer, got {tok!r} (value #{pos + 1})")
    val = int(tok)
    if val < minimum:
        _fail(path, f"{what} must be >= {minimum}, got {val} (value #{pos + 1})")
    return val


def _parse_floats(path, tokens, start, count, what):
    if start + count > len(tokens):
        _fail(path, f"truncated: expected {count} {what} from value #{start + 1} on, "
                    f"but the file ends after {len(tokens) - start}")
    chunk = tokens[start:start + count]
    try:
        arr = np.array(chunk, dtype=np.float64)
    except ValueError:
        arr = None
    if arr is None or not np.isfinite(arr).all() or _BAD_CHAR.search(" ".join(chunk)):
        for i, tok in enumerate(chunk):
            if not _NUMBER.match(tok) or not np.isfinite(float(tok)):
                _fail(path, f"{what}: value #{start + i + 1} is not a finite number: {tok!r}")
    return arr


def read_ihmehimmeli(path) -> IhmehimmeliNetwork:
    """Read a reference network file without building a :class:`~eventsim.Network`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    IhmehimmeliNetwork

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is corrupt or truncated (the message names the file, the
        position of the bad value and what was expected there).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a network file")
    if not path.is_file():
        raise FileNotFoundError(f"network file {path} not found")
    raw = path.read_bytes()
    for magic, what in _BINARY_MAGIC:
        if raw.startswith(magic):
            _fail(path, f"not a network file in the reference's text format: it starts like "
                        f"{what}")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        _fail(path, f"not a network file in the reference's text format (a binary file?): "
                    f"non-ASCII byte at offset {exc.start}")
    tokens = text.split()
    if not tokens:
        _fail(path, "empty file")
    pos = 0
    tagged = tokens[0] == VERSION_TAG
    if tagged:
        pos = 1
    elif not _NUMBER.match(tokens[0]):
        _fail(path, f"unknown network file version {tokens[0][:40]!r} (expected "
                    f"{VERSION_TAG!r} or a number)")
    threshold = float(_parse_floats(path, tokens, pos, 1, "threshold")[0])
    if not threshold > 0:
        _fail(path, f"threshold must be > 0, got {threshold}")
    pos += 1
    n_layers = _parse_int(path, tokens, pos, "number of layers", 2)
    pos += 1
    sizes = []
    for layer in range(n_layers):
        sizes.append(_parse_int(path, tokens, pos, f"size of layer {layer}", 1))
        pos += 1
    n_pulses = _parse_int(path, tokens, pos, "number of pulses", 0)
    pos += 1
    n_sets = n_layers if tagged else 1
    pulses = _parse_floats(path, tokens, pos, n_sets * n_pulses, "pulse times")
    pos += n_sets * n_pulses
    pulses = pulses.reshape(n_sets, n_pulses)
    if not tagged:
        pulses = np.repeat(pulses, n_layers, axis=0)
    n_weights = sum(sizes[i + 1] * (sizes[i] + n_pulses) for i in range(n_layers - 1))
    flat = _parse_floats(path, tokens, pos, n_weights, "weights")
    pos += n_weights
    if pos != len(tokens):
        _fail(path, f"{len(tokens) - pos} unexpected values after the {n_weights} weights "
                    f"(starting with {tokens[pos][:40]!r} at value #{pos + 1})")
    weights = []
    off = 0
    for i in range(n_layers - 1):
        shape = (sizes[i + 1], sizes[i] + n_pulses)
        weights.append(flat[off:off + shape[0] * shape[1]].reshape(shape).copy())
        off += shape[0] * shape[1]
    return IhmehimmeliNetwork(threshold, sizes, pulses, weights, tagged)


def from_ihmehimmeli(model: IhmehimmeliNetwork, decay_constant: float, *,
                     threshold: float | None = None,
                     keep_unused_pulses: bool = False) -> Network:
    """Build a :class:`~eventsim.Network` from an :class:`IhmehimmeliNetwork`.

    See :func:`load_ihmehimmeli` for the parameters and the layout.
    """
    decay_constant = float(decay_constant)
    if not (np.isfinite(decay_constant) and decay_constant > 0):
        raise ValueError(f"decay_constant must be finite and > 0, got {decay_constant!r}")
    theta = model.threshold if threshold is None else float(threshold)
    sizes = model.layer_sizes
    n_layers = len(sizes)
    n_pulses = model.n_pulses
    net = Network()
    prev = net.add_inputs(sizes[0], name="input")
    for layer in range(1, n_layers):
        pulse_pop = None
        if n_pulses:
            pulse_pop = net.add_pulses(model.pulses[layer - 1], name=f"pulses{layer - 1}")
        name = "output" if layer == n_layers - 1 else f"hidden{layer - 1}"
        pop = net.add_population(sizes[layer], tau=decay_constant, theta=theta, name=name)
        w = model.weights[layer - 1]
        net.connect_dense(prev, pop, w[:, :sizes[layer - 1]].T)
        if pulse_pop is not None:
            net.connect_dense(pulse_pop, pop, w[:, sizes[layer - 1]:].T)
        prev = pop
    if keep_unused_pulses and n_pulses:
        net.add_pulses(model.pulses[n_layers - 1], name=f"pulses{n_layers - 1}")
    return net


def load_ihmehimmeli(path, decay_constant: float, *, threshold: float | None = None,
                     keep_unused_pulses: bool = False) -> Network:
    """Load a network saved by the reference implementation (ihmehimmeli).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``Tempcoder::WriteNetworkToFile`` (or by
        :func:`save_ihmehimmeli`), either version.
    decay_constant : float
        Decay rate of the alpha kernel (eventsim's ``tau``); the file does not
        store it.  The published MNIST networks of Comsa et al. use 0.181769.
    threshold : float, optional
        Override the threshold stored in the file (the reference writes it with
        six significant digits).
    keep_unused_pulses : bool, default False
        The file stores one set of pulses more than the network uses (for the
        output layer, feeding nothing).  If True, it is added as an unconnected
        pulse population ``"pulses{L-1}"`` (so that :func:`save_ihmehimmeli`
        writes it back unchanged); if False it is dropped.

    Returns
    -------
    Network
        Populations, in id order: ``"input"``, then for every later layer its
        pulses ``"pulses0"``, ``"pulses1"``, ... followed by the layer,
        ``"hidden0"``, ``"hidden1"``, ..., ``"output"``.  Layers are fully
        connected to the previous layer and to their pulses, with zero delays.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is corrupt or truncated, or ``decay_constant`` is not > 0.

    Examples
    --------
    >>> net = load_ihmehimmeli("slow_network", decay_constant=0.181769)  # doctest: +SKIP
    >>> net["hidden0"].size, net["output"].size  # doctest: +SKIP
    (340, 10)
    """
    return from_ihmehimmeli(read_ihmehimmeli(path), decay_constant, threshold=threshold,
                            keep_unused_pulses=keep_unused_pulses)


def _layers(net: Network):
    names = [p.name for p in net.populations]
    if "input" not in names or "output" not in names:
        raise ValueError("the network must have populations named 'input' and 'output' "
                         f"(layered networks from load_ihmehimmeli or feedforward); it has {names}")
    layers = [net["input"]]
    i = 0
    while f"hidden{i}" in names:
        layers.append(net[f"hidden{i}"])
        i += 1
    layers.append(net["output"])
    if layers[0].kind != "input":
        raise ValueError("population 'input' must be an input population")
    for pop in layers[1:]:
        if pop.kind != "alpha":
            raise ValueError(f"population {pop.name!r} must be of model 'alpha', got {pop.kind!r}")
    return layers


def to_ihmehimmeli(net: Network, *, unused_pulses=None) -> IhmehimmeliNetwork:
    """Convert a layered :class:`~eventsim.Network` to the reference's representation.

    The network must look like those of :func:`load_ihmehimmeli` or
    :func:`eventsim.feedforward`: populations ``"input"``, ``"hidden0"``, ...,
    ``"output"``, fully connected layer to layer, each non-input layer also fully
    connected from its pulses ``"pulses{l}"`` (or from one shared set ``"pulses"``),
    one threshold, one decay constant, zero delays and no other synapses.

    Parameters
    ----------
    net : Network
    unused_pulses : array_like, optional
        Times for the extra pulse set the format stores after the last layer's.
        Default: the population ``"pulses{L-1}"`` if the network has it, else
        evenly spaced times ``(i + 1) / (n_pulses + 1)`` (the reference's
        initial value).

    Returns
    -------
    IhmehimmeliNetwork

    Raises
    ------
    ValueError
        If the network cannot be represented in the format.
    """
    layers = _layers(net)
    n_layers = len(layers)
    names = {p.name for p in net.populations}
    pulse_sets = []
    for layer in range(n_layers - 1):
        if f"pulses{layer}" in names:
            pulse_sets.append(net[f"pulses{layer}"])
        elif "pulses" in names:
            pulse_sets.append(net["pulses"])
        else:
            pulse_sets.append(None)
    sizes_p = {0 if p is None else p.size for p in pulse_sets}
    if len(sizes_p) != 1:
        raise ValueError("every layer must have the same number of pulses; got "
                         f"{[0 if p is None else p.size for p in pulse_sets]}")
    n_pulses = sizes_p.pop()
    for p in pulse_sets:
        if p is not None and p.kind != "pulse":
            raise ValueError(f"population {p.name!r} must be a pulse population")
    known = {p.name for p in layers} | {p.name for p in pulse_sets if p is not None}
    known.add(f"pulses{n_layers - 1}")
    extra_pops = [p.name for p in net.populations if p.name not in known]
    if extra_pops:
        raise ValueError(f"populations {extra_pops} are not part of the layered network "
                         "(input, hidden0, ..., output and their pulses): not representable")
    empty = [p.name for p in layers if p.size == 0]
    if empty:
        raise ValueError(f"layers must not be empty: {empty}")

    pops = [p.index for p in layers[1:]]
    tau = net.tau[pops]
    theta = net.theta[pops]
    if not (tau == tau[0]).all():
        raise ValueError(f"all layers must share one decay constant (the format stores none "
                         f"and the reference uses one); got tau = {tau.tolist()}")
    if not (theta == theta[0]).all():
        raise ValueError(f"all layers must share one threshold (the format stores one); "
                         f"got theta = {theta.tolist()}")
    if net.n_synapses and np.any(net._delay_view() != 0):
        raise ValueError("the format has no synaptic delays; all delays must be 0")

    pre_all, post_all, w_all = net.pre, net.post, net.weights
    n = net.n_neurons
    weights = []
    covered = 0
    for layer in range(n_layers - 1):
        src, dst = layers[layer], layers[layer + 1]
        # Column of each presynaptic neuron in this layer's weight matrix.
        col = np.full(n, -1, np.int64)
        col[src.start:src.stop] = np.arange(src.size)
        if pulse_sets[layer] is not None:
            ps = pulse_sets[layer]
            col[ps.start:ps.stop] = src.size + np.arange(ps.size)
        sel = (post_all >= dst.start) & (post_all < dst.stop)
        c = col[pre_all[sel]]
        if (c < 0).any():
            bad = pre_all[sel][c < 0][0]
            raise ValueError(f"neuron {bad} connects to layer {dst.name!r} but is neither in "
                             f"{src.name!r} nor in its pulses: not representable")
        r = post_all[sel] - dst.start
        shape = (dst.size, src.size + n_pulses)
        flat = r * shape[1] + c
        if flat.size != shape[0] * shape[1] or np.unique(flat).size != flat.size:
            raise ValueError(f"layer {dst.name!r} must be fully connected, exactly once, from "
                             f"{src.name!r} and its pulses ({shape[0] * shape[1]} synapses); "
                             f"found {flat.size} synapses ({np.unique(flat).size} distinct)")
        w = np.empty(shape[0] * shape[1])
        w[flat] = w_all[sel]
        weights.append(w.reshape(shape))
        covered += flat.size
    if covered != net.n_synapses:
        raise ValueError(f"the network has {net.n_synapses - covered} synapses outside the "
                         "layer-to-layer pattern (recurrent, skip or into the input)")

    pulses = np.zeros((n_layers, n_pulses))
    for layer, ps in enumerate(pulse_sets):
        if ps is not None:
            pulses[layer] = net.pulse_times[ps.index:ps.index + ps.size]
    if unused_pulses is not None:
        extra = np.asarray(unused_pulses, np.float64)
        if extra.shape != (n_pulses,):
            raise ValueError(f"unused_pulses must have shape ({n_pulses},), got {extra.shape}")
    elif n_pulses and f"pulses{n_layers - 1}" in names:
        ps = net[f"pulses{n_layers - 1}"]
        if ps.size != n_pulses:
            raise ValueError(f"population 'pulses{n_layers - 1}' has {ps.size} pulses, "
                             f"expected {n_pulses}")
        extra = net.pulse_times[ps.index:ps.index + ps.size]
    else:
        extra = np.arange(1, n_pulses + 1) / (n_pulses + 1)
    pulses[n_layers - 1] = extra
    if not np.isfinite(pulses).all():
        raise ValueError("pulse times must be finite (the format cannot store a pulse "
                         "that never fires)")
    thr = float(theta[0]) if theta.size else 1.0
    return IhmehimmeliNetwork(thr, [p.size for p in layers], pulses, weights, True)


def _fmt(x) -> str:
    # Shortest repr that reads back to the same double; absl::SimpleAtod parses it.
    return repr(float(x))


def save_ihmehimmeli(net, path, *, unused_pulses=None) -> None:
    """Save a layered network in the reference implementation's file format.

    The file is written to a temporary file in the same folder and moved into
    place with :func:`os.replace`, so ``path`` is never left half-written.
    Values are written with full double precision (the reference writes six
    significant digits; both read either).

    Parameters
    ----------
    net : Network or IhmehimmeliNetwork
        A network of the layout described in :func:`to_ihmehimmeli`.
    path : str or os.PathLike
    unused_pulses : array_like, optional
        See :func:`to_ihmehimmeli`.

    Raises
    ------
    ValueError
        If the network cannot be represented in the format.

    Notes
    -----
    The decay constant is not stored; pass it again to :func:`load_ihmehimmeli`
    (or to the reference's ``-decay_rate`` flag).
    """
    model = net if isinstance(net, IhmehimmeliNetwork) else to_ihmehimmeli(
        net, unused_pulses=unused_pulses)
    parts = [VERSION_TAG, _fmt(model.threshold), str(len(model.layer_sizes))]
    parts += [str(int(s)) for s in model.layer_sizes]
    parts.append(str(model.n_pulses))
    parts += [_fmt(v) for v in np.ravel(model.pulses)]
    for w in model.weights:
        parts += [_fmt(v) for v in np.ravel(w)]
    # Like the reference: every value followed by one space, no newline (the
    # reference's reader parses every line, an empty last line included).
    text = " ".join(parts) + " "
    atomic_write(path, lambda f: f.write(text), binary=False)
