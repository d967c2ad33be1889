"""The neuron-model registry (eventsim/models.py) and its agreement with the compiled side."""

import pathlib
import re

import numpy as np
import pytest

import eventsim
from eventsim.potential import kernel
from eventsim import models

NETREC = pathlib.Path(__file__).resolve().parents[1] / "cython_src" / "eventsim" / "_netrec.pxd"


def test_models_view_of_registry():
    assert eventsim.MODELS == {
        "alpha": {"tau": 1.0, "theta": 1.0},
        "lif": {"tau_mem": 1.0, "tau_syn": 1.0, "theta": 1.0, "g_leak": 1.0},
        "lif_multispike": {"tau_mem": 1.0, "tau_syn": 1.0, "theta": 1.0, "g_leak": 1.0,
                           "v_reset": 0.0, "t_ref": 0.0, "bias": 0.0, "v_init": 0.0},
        "li": {"tau_mem": 1.0, "tau_syn": 1.0, "g_leak": 1.0, "bias": 0.0, "v_init": 0.0}}
    assert list(models.REGISTRY) == ["alpha", "lif", "lif_multispike", "li"]
    for name, m in models.REGISTRY.items():
        assert dict(m.defaults) == eventsim.MODELS[name]


def test_kernel_codes_match_netrec():
    if not NETREC.exists():
        pytest.skip("no source tree")
    codes = dict(re.findall(r"^\s+(MODEL_\w+) = (\d+)", NETREC.read_text(), re.M))
    assert codes == {"MODEL_ALPHA": str(models.MODEL_ALPHA), "MODEL_LIF": str(models.MODEL_LIF),
                     "MODEL_LIF2": str(models.MODEL_LIF2),
                     "MODEL_SPIKE_TRAIN_ONLY": str(models.MODEL_SPIKE_TRAIN_ONLY)}
    train = NETREC.with_name("_model_lif_multispike.pxd").read_text()
    codes = dict(re.findall(r"^\s+(TRAIN_LIF|TRAIN_LI) = (\d+)", train, re.M))
    assert codes == {"TRAIN_LIF": str(models.TRAIN_LIF), "TRAIN_LI": str(models.TRAIN_LI)}
    # The population table's width and column order are the registry's row layout.
    cols = dict(re.findall(r"^\s+(COL_\w+|TRAIN_COLS) = (\d+)", train, re.M))
    assert int(cols.pop("TRAIN_COLS")) == 9 == len(cols)
    row = models.lookup("lif_multispike").spike_train(
        {"tau_mem": 2.0, "tau_syn": 3.0, "g_leak": 4.0, "theta": 5.0, "v_reset": 6.0,
         "t_ref": 7.0, "bias": 8.0, "v_init": 9.0})
    named = {"COL_CODE": models.TRAIN_LIF, "COL_TAU_MEM": 2.0, "COL_TAU_SYN": 3.0,
             "COL_G_LEAK": 4.0, "COL_THETA": 5.0, "COL_V_RESET": 6.0, "COL_T_REF": 7.0,
             "COL_BIAS": 8.0, "COL_V_INIT": 9.0}
    for name, value in named.items():
        assert row[int(cols[name])] == value, name


def test_first_spike_engine_refuses_spike_train_populations():
    from eventsim import _engine
    net = eventsim.Network()
    net.add_inputs(1)
    net.add_population(1, model="lif", multispike=True)
    with pytest.raises(ValueError, match="first-spike engine cannot run multi-spike"):
        _engine.run_batch(net._lower(), np.zeros((1, 1)), 1.0, 100, False, 1)


def test_lowering_per_model():
    low = models.lookup("lif").lower({"tau_mem": 2.0, "tau_syn": 1.0, "theta": 1.0,
                                      "g_leak": 0.5})
    assert (low.code, low.rate, low.rate_syn) == (models.MODEL_LIF2, 0.5, 1.0)
    assert low.coef == pytest.approx(1.0 / (0.5 * 1.0))
    low = models.lookup("lif").lower({"tau_mem": 2.0, "tau_syn": 2.0, "theta": 1.0,
                                      "g_leak": 0.5})
    assert (low.code, low.rate, low.scale) == (models.MODEL_ALPHA, 0.5, 1.0)
    assert models.lookup("alpha").lower({"tau": 3.0, "theta": 1.0}).code == models.MODEL_ALPHA


def test_unknown_model_and_taken_name():
    with pytest.raises(ValueError, match="unknown neuron model 'srm'"):
        models.lookup("srm")
    with pytest.raises(ValueError, match="taken"):
        models.register(models.REGISTRY["alpha"])


def test_kernel_reads_the_registry():
    s = np.linspace(0.0, 3.0, 7)
    np.testing.assert_allclose(kernel({"model": "alpha", "tau": 2.0, "theta": 1.0}, s),
                               s * np.exp(-2.0 * s))
