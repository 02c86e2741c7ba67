"""A stacked autoencoder as in the UFLDL tutorial: 784-200-200-10, greedy pretraining, softmax,
fine-tuning, with the accuracy before and after fine-tuning.

    pip install '.[mnist]' && python examples/stacked.py                 # 5000-digit MNIST sample
"""

import sys

from sklearn.model_selection import train_test_split

from sparseae import StackedAutoencoderClassifier
from sparseae.experiments import labeled_data

source = sys.argv[1] if len(sys.argv) > 1 else "mnist"
X, y = labeled_data(source)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                    random_state=0)
model = StackedAutoencoderClassifier((200, 200), sparsity_target=0.1, sparsity_weight=3.0,
                                     weight_decay=3e-3, random_state=0, verbose=True)
model.fit(X_train, y_train)
print(f"before fine-tuning: {model.pretrained_.score(X_test, y_test):.4f}")
print(f"after fine-tuning:  {model.score(X_test, y_test):.4f}")
