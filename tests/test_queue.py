"""Stateful tests of the engine's event heap and action tree against plain Python."""

import heapq
import math

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventsim._engine import _PyActionTree, _PyEventHeap

# Few distinct times so that ties (which must come out in insertion order) are common.
times = st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.0 + 2 ** -40, 3.0, -1.0])


class HeapMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.heap = _PyEventHeap()
        self.model = []
        self.seq = 0

    @rule(t=times, neuron=st.integers(0, 1000))
    def push(self, t, neuron):
        self.heap.push(t, neuron)
        heapq.heappush(self.model, (t, self.seq, neuron))
        self.seq += 1

    @precondition(lambda self: self.model)
    @rule()
    def pop(self):
        assert self.heap.pop() == heapq.heappop(self.model)

    @invariant()
    def consistent(self):
        assert len(self.heap) == len(self.model)
        self.heap._check()


class TreeMachine(RuleBasedStateMachine):
    N = 70  # several leaves and a partial last leaf

    def __init__(self):
        super().__init__()
        self.tree = _PyActionTree(self.N)
        self.model = [math.inf] * self.N

    @rule(neuron=st.integers(0, N - 1), t=times | st.just(math.inf))
    def set(self, neuron, t):
        self.tree.set(neuron, t)
        self.model[neuron] = t

    @invariant()
    def argmin_matches(self):
        self.tree._check()
        m = min(self.model)
        j, t = self.tree.argmin()
        assert t == m
        if m == math.inf:
            assert j == -1
        else:
            assert j == self.model.index(m)  # ties go to the lowest neuron id


class WideTreeMachine(TreeMachine):
    # Several groups of leaves, so ties between groups and a group's argmin moving
    # from one leaf to another are exercised; neurons drawn from a few leaves so
    # that the same leaves are raised and lowered repeatedly.
    N = 600

    @rule(leaf=st.sampled_from([0, 1, 15, 16, 17, 33, 37]), offset=st.integers(0, 15),
          t=times | st.just(math.inf))
    def set_clustered(self, leaf, offset, t):
        neuron = min(leaf * 16 + offset, self.N - 1)
        self.tree.set(neuron, t)
        self.model[neuron] = t


def _cases(machine, quick, thorough):
    """A quick run in the default suite and a long one marked slow (``pytest -m slow``)."""
    fast = type(machine.__name__ + "Quick", (machine.TestCase,), {})
    fast.settings = settings(deadline=None, **quick)
    slow = pytest.mark.slow(type(machine.__name__ + "Thorough", (machine.TestCase,), {}))
    slow.settings = settings(deadline=None, **thorough)
    return fast, slow


TestHeap, TestHeapThorough = _cases(
    HeapMachine, dict(max_examples=25, stateful_step_count=40),
    dict(max_examples=300, stateful_step_count=80))
TestTree, TestTreeThorough = _cases(
    TreeMachine, dict(max_examples=25, stateful_step_count=40),
    dict(max_examples=300, stateful_step_count=80))
TestWideTree, TestWideTreeThorough = _cases(
    WideTreeMachine, dict(max_examples=15, stateful_step_count=60),
    dict(max_examples=200, stateful_step_count=100))
