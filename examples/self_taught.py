"""Self-taught learning as in the UFLDL tutorial, with the library's API.

Features are learned from the digits 5-9 without their labels; a softmax trained on those
features for half of the digits 0-4 is tested on the other half, against a softmax on raw pixels.

    pip install '.[mnist]' && python examples/self_taught.py            # 5000-digit MNIST sample
    python examples/self_taught.py digits                                # scikit-learn's digits
"""

import sys

import numpy as np

from sparseae import SoftmaxRegression, SparseAutoencoder
from sparseae.experiments import labeled_data

source = sys.argv[1] if len(sys.argv) > 1 else "mnist"
X, y = labeled_data(source)
unlabeled = X[y >= 5]
labeled = np.random.default_rng(0).permutation(np.flatnonzero(y < 5))
train, test = np.sort(labeled[: len(labeled) // 2]), np.sort(labeled[len(labeled) // 2 :])

autoencoder = SparseAutoencoder(200, sparsity_target=0.1, sparsity_weight=3.0, weight_decay=3e-3,
                                max_iter=400, random_state=0, verbose=True).fit(unlabeled)
on_features = SoftmaxRegression(weight_decay=1e-4, random_state=0).fit(
    autoencoder.transform(X[train]), y[train])
on_pixels = SoftmaxRegression(weight_decay=1e-4, random_state=0).fit(X[train], y[train])

features_test = autoencoder.transform(X[test])
print(f"softmax on learned features: {on_features.score(features_test, y[test]):.4f}")
print(f"softmax on raw pixels:       {on_pixels.score(X[test], y[test]):.4f}")
