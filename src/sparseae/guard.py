"""A fit that leaves its estimator as it was when it raises.

Its own module, with nothing of the package imported, so that the data scalers (imported by
``training``) and the estimators (which import ``training``) can both use it.
"""

from __future__ import annotations

import functools


def unchanged_on_failure(fit):
    """``fit`` that leaves the estimator as it was when it raises (data found bad while it is
    read, divergence, a callback's error, Ctrl-C): scikit-learn's input checks set
    ``n_features_in_`` before the data is read, which would leave a model of one width that
    claims another."""
    @functools.wraps(fit)
    def guarded(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return guarded
