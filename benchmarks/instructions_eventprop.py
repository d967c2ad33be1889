"""Instructions and mispredicted branches per Yin-Yang EventProp step, counted by callgrind.

Wall time on a shared machine drifts by tens of percent over seconds; instruction counts do
not.  This runs a training step (forward with the tape, the first-spike cross-entropy,
EventProp, the update) or an inference step of 32 examples of examples/yin_yang_eventprop.py's
network under ``valgrind --tool=callgrind --branch-sim=yes``, ``--steps`` times and 0 times,
and prints the difference per step, so that start-up (imports, data) cancels.  With
``--baseline-python PY`` (the Python of another build of eventsim, e.g. an older commit
installed in its own virtual environment) it counts that build too and prints the ratios.

Needs valgrind (``apt-get install valgrind``); a step costs about a second under it.

Run:
    python benchmarks/instructions_eventprop.py
    python benchmarks/instructions_eventprop.py --mode infer --baseline-python $OLDENV/bin/python
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

STEP_SCRIPT = r"""
import sys
import numpy as np
import eventsim
from eventsim import tasks
from eventsim.losses import ttfs_cross_entropy
steps, mode = int(sys.argv[1]), sys.argv[2]
X, y = tasks.load_yin_yang("train", t_early=0.0, t_late=30.0, bias_time=0.0)
net = eventsim.Network()
inp = net.add_inputs(5)
params = dict(tau_mem=20.0, tau_syn=5.0, theta=1.0, v_reset=0.0, t_ref=0.0)
hid = net.add_population(200, model="lif", multispike=True, **params)
out = net.add_population(3, model="lif", multispike=True, **params)
net.connect_dense(inp, hid, np.random.default_rng(0).normal(1.5, 0.78, (5, 200)))
net.connect_dense(hid, out, np.random.default_rng(0).normal(0.93, 0.1, (200, 3)))
def step(s):
    if mode == "infer":
        eventsim.simulate(net, X[s:s + 32], t_max=200.0, n_threads=1)
        return
    res = eventsim.simulate(net, X[s:s + 32], t_max=200.0, record_tape=True, n_threads=1)
    _, dl = ttfs_cross_entropy(res.times[:, out.ids], y[s:s + 32])
    g = eventsim.backward(net, res, dl / 32, outputs=out.ids, n_threads=1)
    net.weights = net.weights + 1e-3 * g.weights
step(0)          # warm-up: plans, caches and workspaces are made once
for i in range(steps):
    step(32 * (i + 1))
"""


def count(python, steps, mode, tmp):
    """(instructions, conditional + indirect mispredictions) of a run with ``steps`` steps."""
    script = os.path.join(tmp, "step.py")
    out = os.path.join(tmp, f"cg.{steps}.{abs(hash(python))}")
    with open(script, "w") as f:
        f.write(STEP_SCRIPT)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run(["valgrind", "--tool=callgrind", "--branch-sim=yes",
                    f"--callgrind-out-file={out}", python, script, str(steps), mode],
                   check=True, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    text = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True,
                          check=True).stdout
    line = next(l for l in text.splitlines() if "PROGRAM TOTALS" in l)
    nums = [int(v.replace(",", "")) for v in re.findall(r"([\d,]+) \(", line)]
    ir, bcm, bim = nums[0], nums[2], nums[4]
    return ir, bcm + bim


def per_step(python, steps, mode, tmp):
    ir0, mp0 = count(python, 0, mode, tmp)
    ir1, mp1 = count(python, steps, mode, tmp)
    return (ir1 - ir0) / steps, (mp1 - mp0) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--mode", choices=("train", "infer"), default="train")
    ap.add_argument("--baseline-python", default=None)
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    # The real interpreter: a wrapper script (pyenv's shims) would be what valgrind counts.
    builds = [("this build", os.path.realpath(sys.executable))]
    if args.baseline_python:
        builds.append(("baseline", args.baseline_python))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, python in builds:
            rows[name] = per_step(python, args.steps, args.mode, tmp)
    print(f"per {args.mode} step of 32 examples ({args.steps} steps)")
    print(f"{'build':12s}{'instructions':>16s}{'mispredicted':>16s}")
    for name, (ir, mp) in rows.items():
        print(f"{name:12s}{ir:16,.0f}{mp:16,.0f}")
    if args.baseline_python:
        (a, b), (c, d) = rows["this build"], rows["baseline"]
        print(f"{'ratio':12s}{a / c:16.3f}{b / d:16.3f}")


if __name__ == "__main__":
    main()
