"""Saving and loading models: plain arrays plus a JSON header in a ``.npz``, never pickle.

The file is a NumPy zip archive with the arrays ``W1, b1, W2, b2, loss_curve, rho_hat`` (and
``validation_loss_curve`` and ``feature_names_in`` when the model has them) and ``header``, the
UTF-8 bytes of a JSON object with the format name, its version, the estimator's parameters and
the scalar fitted attributes (and ``transform_output``, when ``set_output`` chose what
``transform`` returns). A network classifier (``NetworkClassifier``, ``SoftmaxRegression``)
is saved the same way in a format of its own: one ``Wk, bk`` pair per layer, and its ``classes``.
Loading uses ``allow_pickle=False``, so a file cannot run code. Writes go to a temporary file that
is renamed into place, so an interrupted save never leaves half a model.

The fitted preprocessing of a run (scaling, whitening) is saved the same way
(``save_preprocessing``): each step's class name, its parameters and its scalar fitted attributes
(and its ``transform_output``, as a model's) in the header, its fitted arrays beside it. Only the
classes in ``_transform_classes`` load.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .backend import storage_dtype

FORMAT = "sparseae.SparseAutoencoder"
VERSION = 1
ARRAYS = ("W1", "b1", "W2", "b2", "rho_hat")


class ModelFileError(ValueError):
    """A file that is not a readable sparseae model."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def as_path(path) -> Path | str:
    """``path`` as it was given, after a clear error if it is not a path: a string, or a
    ``pathlib.Path`` or another ``os.PathLike``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a path is a string or a pathlib.Path, not {type(path).__name__}")
    return path


def not_found(path, message: str) -> OSError:
    """The error for ``path``, found not to be there: ``FileNotFoundError(message)``, unless
    the path is a loop of symbolic links or a link to a missing file, which it then says: "no
    such file" would send the user looking for what is, as a link, right there."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return OSError(f"{path} {'is' if os.path.islink(path) else 'passes through'} a "
                           "loop of symbolic links")
    if os.path.islink(path) and not os.path.exists(path):
        return FileNotFoundError(f"{path} is a symbolic link to a missing file "
                                 f"({os.readlink(path)})")
    return FileNotFoundError(message)


def is_there(path) -> bool:
    """Whether the optional file ``path`` is there (a checkpoint to go on from, say): False
    where nothing is at ``path``, and ``not_found``'s error where a symbolic link is, that
    leads nowhere (a loop, a link to a missing file): taken for "no file", it would have a run
    begin again beside what the user put there."""
    if os.path.exists(path):
        return True
    if os.path.lexists(path):
        raise not_found(path, f"no such file: {path}")
    return False


def writable(path) -> Path:
    """The file that writing ``path`` writes (a symbolic link's target), with a clear error if
    it cannot be written there: a missing folder, a folder or a device in its place, a loop of
    links, a folder this process may not write in."""
    path = as_path(path)
    if str(path).endswith(("/", os.sep)):  # (Path would drop the slash and write a file)
        raise IsADirectoryError(f"{path} names a folder: give the file to write")
    path = Path(path)
    if path.is_symlink():
        try:
            os.stat(path)  # (Path.resolve says nothing of a loop from Python 3.13 on)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise OSError(f"{path} is a loop of symbolic links: give the path of a file "
                              "to write") from None
        path = path.resolve()
    if not path.parent.is_dir():
        above = next(p for p in path.parents if os.path.lexists(p))  # (".", "/" at the end)
        if above.exists() and not above.is_dir():  # ("no such folder" would send one looking)
            raise NotADirectoryError(f"{above} is a file, not a folder (to write {path} in)")
        raise not_found(path.parent, f"no such folder: {path.parent} (to write {path.name} in)")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give the file to write")
    if path.exists() and not path.is_file():
        raise FileExistsError(f"{path} is not a regular file (a device or a pipe, say): give "
                              "the path of a file to write")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{path.parent}: permission denied (to write {path.name} in)")
    return path


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.
    A symbolic link is written through (its target is replaced, the link kept); anything at
    ``path`` that is not a regular file (a device, a pipe) is refused, not replaced. A file
    that is replaced keeps its permissions; a new one gets those ``open`` would give it."""
    path = writable(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:  # (named by the file asked for, not by the temporary one)
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        # mkstemp's file is private: as the file it replaces was, or as open() would make it
        os.fchmod(fd, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno is not None and err.filename is None:
            # (a full disk: Python's error names no file; this one names the file asked for)
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


def leftover_temporaries(folder) -> list[Path]:
    """The temporary files of ``atomic_write`` in ``folder`` that a process killed outright
    (SIGKILL, the out-of-memory killer) left there, unable to rename or remove them."""
    return [path for path in Path(folder).glob(".*.tmp")  # (mkstemp's 8 random characters)
            if re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", path.name) and path.is_file()]


def _json_scalar(value):
    """NumPy scalars (``np.int64(3)``, say, from a grid search) as the JSON numbers they are."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save a {type(value).__name__} ({value!r}) in a file's header")


def write_archive(path, header: dict, arrays: dict) -> Path:
    """Arrays plus a JSON ``header`` in one ``.npz``, written atomically."""
    text = json.dumps(header, default=_json_scalar)
    arrays = {**arrays, "header": np.frombuffer(text.encode(), dtype=np.uint8)}
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return Path(path)


def read_archive(path, formats: dict[str, int], what: str, error=ValueError):
    """``(header, arrays)`` of an archive written by ``write_archive`` with one of ``formats``
    (format name: the version read); ``error`` (with a message naming ``what``) for anything
    else. Never unpickles."""
    path = Path(as_path(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a {what}")
    if not path.is_file():
        raise not_found(path, f"no {what} at {path}")
    if not zipfile.is_zipfile(path):  # np.load would take it for a pickle
        raise error(f"{path} is not a {what} (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError) as err:  # (a damaged zip: "compression method", "encrypted")
        raise error(f"{path} is not a {what} ({err})") from None
    try:
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (KeyError, ValueError):  # (UnicodeDecodeError is a ValueError)
        header = None
    kind = header.get("format") if isinstance(header, dict) else None
    if not isinstance(kind, str) or kind not in formats:
        raise error(f"{path} is not a {what} ("
                    + (f"it is a {kind} file)" if isinstance(kind, str) and
                       kind.startswith("sparseae.") else "an .npz without sparseae's header)"))
    version = header.get("version")
    if version != formats[kind] or isinstance(version, bool):
        # ("1", a string, is no version 1, nor is true: a damaged header, said as it is)
        said = ("with no format version" if version is None else
                f"of format version {version}" if type(version) is int else
                f"of format version {json.dumps(version)}")
        raise error(f"{path} is a {what} {said}; this sparseae reads version {formats[kind]}")
    return header, arrays


def save(model, path) -> Path:
    """Write a fitted ``SparseAutoencoder``, ``NetworkClassifier`` or ``SoftmaxRegression`` to
    ``path``; returns the path."""
    from sklearn.utils.validation import check_is_fitted

    from .classifier import NetworkClassifier, StackedAutoencoderClassifier
    from .estimator import SparseAutoencoder

    if isinstance(model, NetworkClassifier):
        check_is_fitted(model)
        return _save_classifier(model, path)
    if not isinstance(model, SparseAutoencoder):
        hint = ("; save its network_ and its autoencoders_, each a model of its own"
                if isinstance(model, StackedAutoencoderClassifier) else "")
        raise TypeError(f"sparseae saves a SparseAutoencoder, a NetworkClassifier or a "
                        f"SoftmaxRegression, not a {type(model).__name__}{hint}")
    check_is_fitted(model)
    header = {"format": FORMAT, "version": VERSION, **_fitted_header(model)}
    output = getattr(model, "_sklearn_output_config", {}).get("transform")
    if output is not None:  # set_output(transform=...): what transform returns
        header["transform_output"] = output
    arrays = {name: getattr(model, name + "_") for name in ARRAYS}
    model._check_model_params()
    problem = _array_problem(arrays, storage_dtype(model.dtype), model.n_features_in_,
                             model.n_hidden)
    if problem:  # what load would refuse, refused before it is written
        raise ValueError(f"cannot save this model: {problem}")
    return write_archive(path, header, {**arrays, **_curves_and_names(model)})


def _fitted_header(model) -> dict:
    """The header fields every saved estimator has: its parameters (the callback aside), the
    final training cost, its iterations, why they ended and its number of input features."""
    params = {k: v for k, v in model.get_params().items() if k != "callback"}
    seed = params["random_state"]
    if isinstance(seed, np.integer):  # from a grid over seeds, say
        params["random_state"] = int(seed)
    elif not isinstance(seed, (int, type(None))):
        params["random_state"] = None  # a RandomState object is not a setting
    return {"params": params, "loss": model.loss_, "n_iter": model.n_iter_,
            "stop_reason": model.stop_reason_, "n_features_in": model.n_features_in_}


def _curves_and_names(model) -> dict:
    arrays = {"loss_curve": np.asarray(model.loss_curve_, dtype=np.float64)}
    if hasattr(model, "validation_loss_curve_"):  # fitted with early stopping
        arrays["validation_loss_curve"] = np.asarray(model.validation_loss_curve_, np.float64)
    if hasattr(model, "feature_names_in_"):
        arrays["feature_names_in"] = np.asarray(model.feature_names_in_, dtype=str)
    return arrays


def _set_fitted(model, header: dict, arrays: dict):
    """The fitted attributes ``_fitted_header`` and ``_curves_and_names`` saved (after
    ``n_features_in_``), with a ValueError for any that no fit gives."""
    n_iter = header["n_iter"]
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ValueError(f"n_iter is {n_iter!r}, not a number of iterations")
    for name in ("loss_curve", "validation_loss_curve"):
        if name in arrays and arrays[name].ndim != 1:
            raise ValueError(f"{name} has shape {arrays[name].shape}, not (iterations,)")
    names = arrays.get("feature_names_in")
    if names is not None and names.shape != (model.n_features_in_,):
        raise ValueError(f"feature_names_in has shape {names.shape}, but n_features_in is "
                         f"{model.n_features_in_!r}")
    model.loss_ = header["loss"]
    model.n_iter_ = header["n_iter"]
    model.stop_reason_ = header.get("stop_reason")  # (not in files from before it was kept)
    model.interrupted_ = model.stop_reason_ == "interrupted"
    model.loss_curve_ = arrays["loss_curve"].tolist()
    if "validation_loss_curve" in arrays:
        model.validation_loss_curve_ = arrays["validation_loss_curve"].tolist()
    if "feature_names_in" in arrays:
        model.feature_names_in_ = arrays["feature_names_in"].astype(object)


TRANSFORM_OUTPUTS = ("default", "pandas", "polars")  # set_output's choices


def load(path):
    """Read a model written by ``save``; a clear ``ModelFileError`` for anything else."""
    from .estimator import SparseAutoencoder

    path = Path(as_path(path))
    header, arrays = read_archive(path, {FORMAT: VERSION, CLASSIFIER: CLASSIFIER_VERSION},
                                  "sparseae model file", ModelFileError)
    if header["format"] == CLASSIFIER:
        return _load_classifier(path, header, arrays)
    missing = [name for name in (*ARRAYS, "loss_curve") if name not in arrays]
    if missing:
        raise ModelFileError(f"{path} is a damaged sparseae model: missing {missing}")

    try:
        model = SparseAutoencoder(**header["params"])
        model._check_model_params()
        model.n_features_in_ = header["n_features_in"]
        _set_fitted(model, header, arrays)
        _set_output(model, header.get("transform_output"), "")
    except (KeyError, TypeError, ValueError, ImportError) as err:
        raise ModelFileError(f"{path} is a damaged sparseae model ({type(err).__name__}: "
                             f"{err})") from None
    problem = _array_problem(arrays, storage_dtype(model.dtype), model.n_features_in_,
                             model.n_hidden)
    if problem:
        raise ModelFileError(f"{path} is a damaged sparseae model: {problem}")
    for name in ARRAYS:
        setattr(model, name + "_", arrays[name])
    model.components_ = model.W1_
    model.chunk_rows_ = None
    return model


CLASSIFIER = "sparseae.NetworkClassifier"
CLASSIFIER_VERSION = 1


def _save_classifier(model, path) -> Path:
    """A network classifier: its class name, parameters and fitted scalars in the header; its
    layers as ``W1, b1, W2, b2, ...`` (layer k maps layer k-1's units to its own), its
    ``classes`` and its curves as arrays. What load would refuse is refused before it is
    written."""
    header = {"format": CLASSIFIER, "version": CLASSIFIER_VERSION,
              "estimator": type(model).__name__, **_fitted_header(model),
              "classes_object": model.classes_.dtype == object}
    cut = [label for label in model.classes_ if isinstance(label, str) and label.endswith("\0")]
    if cut:  # (the file keeps labels as NumPy strings, which drop trailing NULs)
        raise ValueError(f"cannot save this model: its label {cut[0]!r} ends in a NUL "
                         f"character, which the file would drop: it would load as "
                         f"{cut[0].rstrip(chr(0))!r}; relabel it")
    arrays = {"classes": model.classes_.astype(str) if model.classes_.dtype == object
              else model.classes_}
    for k, (W, b) in enumerate(model.layers_, 1):
        arrays[f"W{k}"], arrays[f"b{k}"] = W, b
    model.check_params()
    problem = _classifier_problem(model, arrays)
    if problem:
        raise ValueError(f"cannot save this model: {problem}")
    return write_archive(path, header, {**arrays, **_curves_and_names(model)})


def _load_classifier(path: Path, header: dict, arrays: dict):
    from . import network
    from .classifier import NetworkClassifier, SoftmaxRegression

    classes = {cls.__name__: cls for cls in (NetworkClassifier, SoftmaxRegression)}
    try:
        if header["estimator"] not in classes:
            raise ValueError(f"unknown estimator {header['estimator']!r}")
        if not isinstance(header["params"], dict):
            raise TypeError(f"params is {header['params']!r}, not a mapping of names to values")
        params = {name: tuple(v) if isinstance(v, list) else v  # JSON has no tuples
                  for name, v in header["params"].items()}
        model = classes[header["estimator"]](**params)
        model.check_params()
        model.n_features_in_ = header["n_features_in"]
        _set_fitted(model, header, arrays)
        labels = arrays["classes"]
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path} is a damaged sparseae model ({type(err).__name__}: "
                             f"{err})") from None
    problem = _classifier_problem(model, arrays)
    if problem:
        raise ModelFileError(f"{path} is a damaged sparseae model: {problem}")
    n_layers = len(model.hidden_layer_sizes) + 1
    model.layers_ = [network.Layer(arrays[f"W{k}"], arrays[f"b{k}"])
                     for k in range(1, n_layers + 1)]
    # labels that were Python objects (strings from pandas, say) are saved as strings: they
    # load as objects again (files from before this was recorded: strings load as objects)
    labels_were_objects = header.get("classes_object", labels.dtype.kind == "U")
    model.classes_ = labels.astype(object) if labels_were_objects else labels
    return model


def _classifier_problem(model, arrays: dict) -> str | None:
    """What is wrong with a classifier file's arrays, if anything: ``classes`` holds at least
    two labels, and each layer's ``Wk``, ``bk`` are finite float64 of the shapes that
    ``n_features_in``, ``hidden_layer_sizes`` and the classes give."""
    n, labels = model.n_features_in_, arrays["classes"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        return f"n_features_in is {n!r}"
    if labels.ndim != 1 or len(labels) < 2:
        return f"classes has shape {labels.shape}, not (n_classes,) with at least 2"
    if len(np.unique(labels)) != len(labels):
        return "classes holds a label twice"
    sizes = [n, *model.hidden_layer_sizes, len(labels)]
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        for name, shape in ((f"W{k}", (n_out, n_in)), (f"b{k}", (n_out,))):
            value = arrays.get(name)
            problem = ("missing" if value is None else
                       f"has shape {value.shape}, not {shape}" if value.shape != shape else
                       f"is {value.dtype}, not float64" if value.dtype != np.float64 else
                       "holds NaN or infinity" if not np.isfinite(value).all() else None)
            if problem:
                return f"{name} {problem}"
    extra = sorted(name for name in arrays if name[:1] in "Wb" and name[1:].isdigit()
                   and int(name[1:]) > len(sizes) - 1)
    return f"{', '.join(extra)} beyond its {len(sizes) - 1} layers" if extra else None


def _array_problem(arrays: dict, dtype: np.dtype, n_features, n_hidden) -> str | None:
    """What is wrong with a model file's arrays, if anything: each must be of the model's
    dtype, finite, and of the shape ``n_hidden`` and ``n_features_in`` give."""
    for name in ARRAYS:
        if arrays[name].dtype != dtype:
            return f"{name} is {arrays[name].dtype}, not the model's {dtype}"
        if not np.isfinite(arrays[name]).all():
            return f"{name} holds NaN or infinity"
    if arrays["W1"].ndim != 2:
        return f"W1 has shape {arrays['W1'].shape}, not (n_hidden, n_features)"
    h, n = arrays["W1"].shape
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features != n:
        return f"W1 has {n} columns, but the header says n_features_in is {n_features!r}"
    if h != n_hidden:
        return f"W1 has {h} rows, but n_hidden is {n_hidden!r}"
    shapes = {"b1": (h,), "W2": (n, h), "b2": (n,), "rho_hat": (h,)}
    bad = [f"{k} has shape {arrays[k].shape}, not {s}" for k, s in shapes.items()
           if arrays[k].shape != s]
    return "; ".join(bad) or None


PREPROCESSING = "sparseae.Preprocessing"
PREPROCESSING_VERSION = 1


def _transform_classes() -> dict:
    """The transforms a preprocessing file may hold, by class name: nothing else is built."""
    from .data.scaling import SCALERS
    from .whitening import WHITENINGS

    return {cls.__name__: cls for cls in (*SCALERS.values(), *WHITENINGS.values()) if cls}


def save_preprocessing(path, transforms) -> Path:
    """Write fitted transforms (applied in order) to ``path``: what turns raw samples into the
    rows a model was trained on. Keeps each one's parameters and public fitted attributes (the
    names ending in ``_``), enough to ``transform``, not to go on fitting, and what
    ``set_output`` chose that it returns."""
    from sklearn.utils.validation import check_is_fitted

    classes = _transform_classes()
    steps, arrays = [], {}
    for k, transform in enumerate(transforms):
        name = type(transform).__name__
        if classes.get(name) is not type(transform):
            raise TypeError(f"cannot save a {name} as preprocessing; sparseae saves "
                            f"{sorted(classes)}")
        check_is_fitted(transform)
        scalars, fitted = {}, []
        for attr, value in vars(transform).items():
            if not attr.endswith("_") or attr.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[f"{k}.{attr}"] = value.astype(str) if value.dtype == object else value
                fitted.append(attr)
            elif isinstance(value, (np.generic, bool, int, float, str, type(None))):
                scalars[attr] = value  # NumPy scalars: written as numbers (_json_scalar)
            else:
                raise TypeError(f"cannot save {name}.{attr} of type {type(value).__name__}")
        steps.append({"class": name, "params": transform.get_params(), "scalars": scalars,
                      "arrays": fitted})
        output = getattr(transform, "_sklearn_output_config", {}).get("transform")
        if output is not None:  # set_output(transform=...), as a model's (save)
            steps[-1]["transform_output"] = output
    header = {"format": PREPROCESSING, "version": PREPROCESSING_VERSION, "steps": steps}
    return write_archive(path, header, arrays)


def load_preprocessing(path):
    """The fitted transforms written by ``save_preprocessing``, as a scikit-learn ``Pipeline``
    (``"passthrough"`` when there are none): ``make_pipeline(preprocessing, model)`` then takes
    raw samples."""
    from sklearn.pipeline import Pipeline

    path = Path(as_path(path))
    what = "sparseae preprocessing file"
    header, arrays = read_archive(path, {PREPROCESSING: PREPROCESSING_VERSION}, what)
    classes, named = _transform_classes(), []
    try:
        if not isinstance(header["steps"], list):
            raise TypeError(f"steps is {header['steps']!r}, not a list")
        for k, step in enumerate(header["steps"]):
            named.append((f"{k}-{str(step['class']).lower()}",
                          _transform(step, k, classes, arrays)))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is a damaged {what} ({err})") from None
    width = None
    for name, transform in named:  # each must turn samples of its width into finite rows
        try:
            width = _output_width(transform, width)
        except ValueError as err:
            raise ValueError(f"{path} is a damaged {what} (step {name}: {err})") from None
    return Pipeline(named or [("identity", "passthrough")])


def _transform(step, k: int, classes: dict, arrays: dict):
    """The ``k``-th transform a preprocessing file's ``step`` describes, its fitted attributes
    set from ``arrays``; a KeyError, TypeError or ValueError for what no save writes."""
    if not isinstance(step, dict):
        raise TypeError(f"a step is {step!r}, not a mapping")
    if step["class"] not in classes:
        raise ValueError(f"unknown transform {step['class']!r}")
    cls = classes[step["class"]]
    for part, kind in (("params", dict), ("scalars", dict), ("arrays", list)):
        if not isinstance(step[part], kind):
            raise TypeError(f"the {part} of {step['class']} are {step[part]!r}")
    params = {name: tuple(v) if isinstance(v, list) else v  # JSON has no tuples
              for name, v in step["params"].items()}
    transform = cls(**params)
    values = {**step["scalars"], **{attr: arrays[f"{k}.{attr}"] for attr in step["arrays"]}}
    for attr, value in values.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*_", str(attr)) or hasattr(cls, attr):
            raise ValueError(f"{step['class']} has no fitted attribute {attr!r}")
        if isinstance(value, np.ndarray) and value.dtype.kind == "U":
            value = value.astype(object)
        elif not isinstance(value, (str, type(None))) and not np.isfinite(
                np.asarray(value, dtype=np.float64)).all():
            raise ValueError(f"{step['class']}.{attr} holds NaN or infinity")
        setattr(transform, attr, value)
    _set_output(transform, step.get("transform_output"), f"the {step['class']}'s ")
    return transform


def _set_output(model, output, whose: str):
    """``set_output(transform=output)`` as saved (None: not set), or a ValueError naming
    ``whose`` (``""`` or ``"the PCA's "``) transform_output."""
    if output is None:
        return
    if output not in TRANSFORM_OUTPUTS:
        raise ValueError(f"{whose}transform_output is {output!r}, not one of "
                         f"{list(TRANSFORM_OUTPUTS)}")
    model.set_output(transform=output)


def _output_width(transform, width: int | None) -> int:
    """The width of a loaded transform's output, or a ValueError saying what is wrong with it:
    it must take ``width`` features (the last one's output; any number for the first) and turn
    a sample of them into a finite row."""
    n = getattr(transform, "n_features_in_", None)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n_features_in_ is {n!r}")
    if width is not None and n != width:
        raise ValueError(f"it takes {n} features, and the step before gives {width}")
    try:
        with warnings.catch_warnings():  # (a division by zero: said below; and no feature
            warnings.simplefilter("ignore")  # names, for a transform fitted on a DataFrame)
            out = np.asarray(transform.transform(np.zeros((1, n))))
    except Exception as err:  # whatever a damaged attribute makes a transform raise
        raise ValueError(f"it cannot transform a sample ({type(err).__name__}: {err})") from None
    if out.ndim != 2 or out.shape[0] != 1 or not np.isfinite(out).all():
        raise ValueError("it turns a sample into NaN or infinity")
    return out.shape[1]


def write_features(model, rows, path, progress: bool = False) -> Path:
    """``model.transform`` of every sample of ``rows`` (``Rows``, transformed as the model's
    training rows were; an ``NpyFile`` or an array as they are) into the ``.npy`` file
    ``path``, one chunk at a time, so that samples larger than memory work. Written beside
    ``path`` and renamed into place: an interrupted run leaves no partial file."""
    from sklearn.utils.validation import check_is_fitted
    from tqdm.auto import tqdm

    from .data.rows import NpyFile, Rows, value_range

    check_is_fitted(model)
    if isinstance(rows, (np.ndarray, NpyFile)):
        rows = Rows(rows)
    elif not isinstance(rows, Rows):
        raise TypeError(f"write_features takes the samples as Rows, an NpyFile or a 2-D array, "
                        f"not {type(rows).__name__}")
    n_hidden, n_features = model.W1_.shape
    if rows.n_features != n_features:
        raise ValueError(f"the samples have {rows.n_features} features after the run's "
                         f"preprocessing; the model takes {n_features}")
    dtype = model.W1_.dtype
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (rows.n_samples, n_hidden)}

    def write(f):
        np.lib.format.write_array_header_2_0(f, header)
        with tqdm(total=rows.n_samples, unit="rows", disable=not progress) as bar:
            done = 0
            for X in rows.chunks(rows.default_chunk(), dtype, views=True):
                value_range(X, done)  # our one-line error for NaN, not scikit-learn's
                f.write(np.ascontiguousarray(model.transform(X), dtype=dtype).tobytes())
                bar.update(X.shape[0])
                done += X.shape[0]

    atomic_write(path, write)
    return Path(path)
