"""Where the batches of training and evaluation are computed.

:class:`SpikingClassifier` never calls the engine directly: it asks its *backend* to
simulate a batch (:meth:`LocalBackend.simulate`) and, after computing the loss
itself, for the gradient of a subset of that batch (:meth:`LocalBackend.gradient`).
:class:`LocalBackend` does both in this process, as :func:`eventsim.simulate` and
:func:`eventsim.backward` would; :class:`eventsim.distributed.DaskBackend` spreads
the examples over the workers of a Dask cluster and returns the same numbers.

A backend is any object with these two methods.  The result ``simulate`` returns
needs a ``times`` array (``n_examples x n_neurons``); what else it holds is the
backend's business, since only the same backend's ``gradient`` reads it.
"""

from __future__ import annotations

from ..gradients import Gradients, backward
from ..network import Network
from ..simulation import simulate

__all__ = ["LocalBackend"]


class LocalBackend:
    """Simulate and differentiate batches in this process (the default backend)."""

    def simulate(self, net: Network, input_times, *, record_tape: bool = False,
                 n_threads: int | None = None):
        """Run a batch: :func:`eventsim.simulate`.

        Parameters
        ----------
        net : Network
        input_times : ndarray, shape (n_examples, n_inputs)
        record_tape : bool, default False
            Keep what :meth:`gradient` needs.
        n_threads : int, optional
            Engine threads (default all cores).

        Returns
        -------
        SimulationResult
        """
        return simulate(net, input_times, record_tape=record_tape, n_threads=n_threads)

    def gradient(self, net: Network, result, rows, dL_dt, *, outputs=None,
                 clip_derivative=None, penalty_no_spike: float = 0.0,
                 n_threads: int | None = None, keys=None) -> Gradients:
        """Gradients summed over the examples ``rows`` of a batch.

        Parameters
        ----------
        net : Network
            The network ``result`` was simulated with, unchanged since.
        result
            What :meth:`simulate` returned, with ``record_tape=True``.
        rows : array_like of int
            Examples of the batch that contribute, in this order.
        dL_dt : ndarray, shape (len(rows), len(outputs))
            Derivative of the loss with respect to the output spike times.
        outputs, clip_derivative, penalty_no_spike, n_threads
            As in :func:`eventsim.backward`.
        keys : sequence of str, optional
            The parameters whose gradients the caller needs (a hint: a remote backend
            sends only these back; this one computes all of them anyway).

        Returns
        -------
        Gradients
        """
        return backward(net, result.select(rows), dL_dt, outputs=outputs,
                        clip_derivative=clip_derivative, penalty_no_spike=penalty_no_spike,
                        n_threads=n_threads)
