"""Safe persistence of fitted sknas estimators: one zip file, no pickle.

``save(estimator, path)`` writes a zip archive with

``sknas.json``
    The estimator's class, its parameters, its fitted public attributes
    (``search_results_``, ``classes_``, ``best_genotype_``...) and the recipe
    of its network (space, genotype, task, sizes, target scaling, training
    history), all as plain JSON.
``models/<i>/weights.pt``
    The ``state_dict`` of each fitted network (``best_estimator_``'s, and an
    ensemble's members): tensors only, read back with
    ``torch.load(weights_only=True)``, which refuses anything but tensors
    and plain containers.
``models/<i>/preprocessing.skops``
    Each network's fitted preprocessing (an sklearn transformer) in skops'
    format, read back with ``skops.io.load`` trusting only classes of
    scikit-learn and of the ``sknas`` package and the few plain-data types
    of :data:`SAFE_SKOPS_TYPES` (more with ``load(path, trusted=[...])``).
``objects.skops`` (only when needed)
    Parameters or attributes that are not plain data (e.g. an sklearn
    transformer given as ``preprocessing=``), under the same rules.
``hashes.json``
    The SHA-256 digest of every other member, written last.

``load(path)`` first checks the archive against ``hashes.json``: a member
that is missing, added or changed since ``save`` (flipped bytes, negated
weights, swapped ``classes_``) raises :class:`UnsafeFileError`, and so does
any archive that cannot be read (truncated, empty, not a zip). The digests
detect corruption and edits by anyone who does not also rewrite
``hashes.json``; they are no signature. To pin one file, compare
:func:`file_digest` with a digest kept elsewhere (``load(path,
expected_sha256=...)``).

It then rebuilds the estimator: every class named in the file must be
a class of the ``sknas`` package (or a type trusted by skops), the network is
rebuilt from its recipe with :func:`sknas.evaluation.trainer.make_net` and
its weights loaded, so predictions equal the saved estimator's exactly. A
file that names any other class, holds a pickle that is not plain tensors,
or whose digests do not match raises :class:`UnsafeFileError` (a
``ValueError``) before any of its code could run.

Not saved: the searcher's internal state (``searcher_`` comes back as a
fresh, unused searcher of the same kind) and the trial models that were not
kept. skops is required (``pip install skops``).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import numbers
import os
import warnings
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .space.genotype import Genotype

__all__ = ["FORMAT_VERSION", "SAFE_SKOPS_TYPES", "UnsafeFileError", "file_digest", "load", "read_metadata",
           "save"]

FORMAT = "sknas-model"
FORMAT_VERSION = 2  # 2: hashes.json (version 1 files load, with a warning that they cannot be checked)
MANIFEST = "sknas.json"
OBJECTS = "objects.skops"
HASHES = "hashes.json"

# Fitted attributes that are rebuilt rather than stored as data.
_REBUILT = ("searcher_",)


def weights_member(i):
    """Name in the archive of model ``i``'s weights (model 0 is ``best_estimator_``)."""
    return f"models/{i}/weights.pt"


def preprocessing_member(i):
    """Name in the archive of model ``i``'s fitted preprocessing."""
    return f"models/{i}/preprocessing.skops"


WEIGHTS = weights_member(0)
PREPROCESSING = preprocessing_member(0)
# numpy dtype kinds stored as JSON lists (bool, ints, floats, str, bytes-as-str).
_JSON_KINDS = "biuf"
# Types skops does not trust by default that fitted sknas pipelines hold: plain data
# (a dtype, a B-spline of sklearn's SplineTransformer) and a function reference that
# loading only looks up, never calls. Classes of sknas and scikit-learn are trusted too.
SAFE_SKOPS_TYPES = (
    "numpy.dtype",
    "scipy.interpolate._bsplines.BSpline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)


class UnsafeFileError(ValueError):
    """A model file names a class or holds data that loading will not trust."""


# ---------------------------------------------------------------------------------------
# JSON encoding of parameters and fitted attributes
# ---------------------------------------------------------------------------------------
def _class_path(obj_or_cls):
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_json_scalar_list(values):
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in values)


class _Encoder:
    """Turns values into tagged JSON; what JSON cannot hold goes to ``objects``.

    Tags: ``{"__tuple__": [...]}``, ``{"__dict__": {...}}``,
    ``{"__genotype__": {...}}``, ``{"__ndarray__": [...], "dtype": ...}``,
    ``{"__sknas__": "module:Class", "params": {...}}``,
    ``{"__model__": i}`` (a fitted preprocessing + network pipeline, stored
    apart) and ``{"__object__": key}`` (a value stored with skops under ``key``).
    """

    def __init__(self):
        self.objects = {}
        self.models = []  # fitted pipelines, each stored once (an ensemble may share best_estimator_)
        self._model_ids = {}

    def __call__(self, value, where):
        if _is_model(value):
            if id(value) not in self._model_ids:
                self._model_ids[id(value)] = len(self.models)
                self.models.append(value)
            return {"__model__": self._model_ids[id(value)]}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, Genotype):
            return {"__genotype__": value.to_dict()}
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self(v, f"{where}[{k!r}]") for k, v in value.items()}}
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            if value.dtype.kind in _JSON_KINDS or value.dtype.kind == "U" or (
                value.dtype == object and _is_json_scalar_list(value.ravel().tolist())
            ):
                return {"__ndarray__": value.tolist(), "dtype": value.dtype.str if value.dtype != object else "object"}
        if isinstance(value, BaseEstimator) and type(value).__module__.split(".")[0] == "sknas":
            fitted = [k for k in vars(value) if k.endswith("_") and not k.startswith("_")]
            if fitted:  # its parameters alone would not bring back its fitted state
                raise ValueError(
                    f"sknas.io.save: {where} is a fitted {type(value).__name__} (with {fitted[:3]}), which "
                    "this version of sknas.io cannot store yet (ensembles, for instance)."
                )
            return {"__sknas__": _class_path(value),
                    "params": self(value.get_params(deep=False), f"{where}.params")}
        key = f"object_{len(self.objects)}"
        self.objects[key] = (where, value)
        return {"__object__": key}


def _import_named(module_name, qualname, source):
    """The object ``qualname`` of ``module_name`` that ``source`` (e.g. ``"the model file"``) names.

    Only imports and looks up: whether the module may be imported at all and
    what the object may be are the caller's checks (before and after).
    """
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise UnsafeFileError(
            f"{source} names {module_name + ':' + qualname!r}, which this version of sknas does not have."
        ) from None
    return obj


#: Classes that moved since files naming their old place were written: old path -> new path.
MOVED = {
    "sknas.ensemble:EnsembleClassifier": "sknas.evaluation.ensembles:EnsembleClassifier",
    "sknas.ensemble:EnsembleRegressor": "sknas.evaluation.ensembles:EnsembleRegressor",
    "sknas.evaluation.predictor:PredictorFilter": "sknas.search.predictor_filter:PredictorFilter",
}


def _resolve_sknas_class(path):
    """The class a ``module:Class`` path names, accepted only from the sknas package."""
    if not isinstance(path, str) or ":" not in path:
        raise UnsafeFileError(f"invalid class path {path!r} in the model file.")
    path = MOVED.get(path, path)
    module_name, qualname = path.split(":", 1)
    if module_name.split(".")[0] != "sknas":
        raise UnsafeFileError(
            f"the model file names the class {path!r}; only classes of the sknas package are loaded."
        )
    obj = _import_named(module_name, qualname, "the model file")
    if not (isinstance(obj, type) and issubclass(obj, BaseEstimator)):
        raise UnsafeFileError(f"the model file names {path!r}, which is not a sknas estimator class.")
    return obj


class _Decoder:
    def __init__(self, objects, models):
        self.objects = objects
        self.models = models

    def __call__(self, value):
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__tuple__" in value:
            return tuple(self(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: self(v) for k, v in value["__dict__"].items()}
        if "__genotype__" in value:
            return Genotype(value["__genotype__"])
        if "__ndarray__" in value:
            dtype = object if value["dtype"] == "object" else np.dtype(value["dtype"])
            return np.array(value["__ndarray__"], dtype=dtype)
        if "__sknas__" in value:
            cls = _resolve_sknas_class(value["__sknas__"])
            return cls(**self(value["params"]))
        if "__model__" in value:
            index = value["__model__"]
            if not isinstance(index, int) or not 0 <= index < len(self.models):
                raise UnsafeFileError(f"the model file refers to a missing model {index!r}.")
            return self.models[index]
        if "__object__" in value:
            try:
                return self.objects[value["__object__"]]
            except KeyError:
                raise UnsafeFileError(f"the model file refers to a missing object {value['__object__']!r}.") from None
        raise UnsafeFileError(f"unknown entry in the model file: {sorted(value)!r}.")


# ---------------------------------------------------------------------------------------
# skops
# ---------------------------------------------------------------------------------------
def _skops():
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("sknas.io needs skops to store the preprocessing safely: pip install skops") from None
    return sio


def _skops_dumps(obj, what):
    sio = _skops()
    try:
        return sio.dumps(obj)
    except Exception as exc:
        raise ValueError(f"sknas.io.save: {what} cannot be stored safely by skops ({type(exc).__name__}: {exc}).") from None


def _is_class_of(name, packages):
    """Whether a dotted ``module.Class`` name is a class of one of ``packages`` (never a function)."""
    if name.split(".")[0] not in packages:
        return False
    module_name, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return False
    return isinstance(obj, type)


def _skops_loads(data, member, trusted):
    """``skops.io.loads`` trusting sknas and scikit-learn classes, :data:`SAFE_SKOPS_TYPES` and ``trusted``."""
    sio = _skops()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise UnsafeFileError(f"{member} in the model file is not a skops file: {type(exc).__name__}: {exc}") from None
    allowed = set(SAFE_SKOPS_TYPES) | set(trusted or ())
    refused = [name for name in untrusted if name not in allowed and not _is_class_of(name, ("sknas", "sklearn"))]
    if refused:
        raise UnsafeFileError(
            f"{member} in the model file holds types that are not trusted: {refused}. "
            "Load it only if you trust its source, with sknas.io.load(path, trusted=[...])."
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise UnsafeFileError(f"{member} in the model file could not be read: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------------
# archives: members, their SHA-256 digests, atomic writes, every read error named
# ---------------------------------------------------------------------------------------
def file_digest(path):
    """The SHA-256 hex digest of a whole file, to pin a saved model or checkpoint.

    Keep the digest of a file you saved somewhere the file's writers cannot
    reach; ``load(path, expected_sha256=digest)`` then refuses any other
    file, including one whose ``hashes.json`` was rewritten to match.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    digest : str
        64 lowercase hex digits, as ``sha256sum`` prints them.
    """
    digest = hashlib.sha256()
    with open(os.fspath(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_archive(path, members, compress_binary=True):
    """Write ``members`` (name -> bytes or str) and ``hashes.json`` (their SHA-256) to ``path`` atomically.

    The archive goes to a temporary file that is flushed to disk and then
    renamed over ``path``: a crash (even ``kill -9``) mid-write leaves the
    previous file whole. With ``compress_binary=False`` only the JSON
    members are compressed (weights barely compress, and a checkpoint is
    written after every trial).
    """
    path = os.fspath(path)
    members = {name: data.encode("utf-8") if isinstance(data, str) else bytes(data) for name, data in members.items()}
    hashes = {"algorithm": "sha256",
              "members": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}}
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in members.items():
                    stored = not compress_binary and not name.endswith(".json")
                    archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if stored else None)
                archive.writestr(HASHES, json.dumps(hashes, indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_archive(path, what="sknas model file"):
    """The members of an archive written by :func:`write_archive`, checked against their digests.

    Returns ``(members, checked)``: a dict name -> bytes (without
    ``hashes.json``) and whether the archive had digests to check (files
    written before they were recorded have none). Any read error (an empty,
    truncated or corrupted file, a bad CRC) and any member that is missing,
    added or changed since it was written raises :class:`UnsafeFileError`
    naming the file.
    """
    path = os.fspath(path)
    if os.path.getsize(path) == 0:
        raise UnsafeFileError(f"{path!r} is not a {what}: the file is empty.")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {}
            for info in archive.infolist():
                if info.filename in members:
                    raise UnsafeFileError(f"{path!r} is not a valid {what}: it holds {info.filename!r} twice.")
                members[info.filename] = archive.read(info)
    except UnsafeFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise UnsafeFileError(
            f"{path!r} is not a {what}, or it is truncated or corrupted: {type(exc).__name__}: {exc}"
        ) from None
    raw = members.pop(HASHES, None)
    if raw is None:
        return members, False
    try:
        hashes = json.loads(raw.decode("utf-8"))
        recorded = hashes["members"]
        if hashes["algorithm"] != "sha256" or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in recorded.items()):
            raise ValueError(hashes["algorithm"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnsafeFileError(f"{path!r}: its {HASHES} is not a valid list of SHA-256 digests ({exc!r}).") from None
    missing = sorted(set(recorded) - set(members))
    if missing:
        raise UnsafeFileError(f"{path!r} was altered after it was written: it lacks {missing}.")
    added = sorted(set(members) - set(recorded))
    if added:
        raise UnsafeFileError(f"{path!r} was altered after it was written: {added} were added to it.")
    changed = sorted(name for name, data in members.items() if hashlib.sha256(data).hexdigest() != recorded[name])
    if changed:
        raise UnsafeFileError(
            f"{path!r} was altered after it was written: the SHA-256 of {changed} does not match the digest "
            f"recorded in its {HASHES} (a corrupted or edited file)."
        )
    return members, True



# ---------------------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------------------
def _is_model(value):
    """A fitted sknas pipeline: ``Pipeline([("preprocessing", ...), ("net", <sknas skorch net>)])``."""
    from sklearn.pipeline import Pipeline

    if not isinstance(value, Pipeline) or list(value.named_steps) != ["preprocessing", "net"]:
        return False
    net = value.named_steps["net"]
    return type(net).__module__.split(".")[0] == "sknas" and hasattr(net, "module_")


def _net_recipe(net, encode):
    """What rebuilding a fitted skorch net needs, as JSON (its weights go apart)."""
    from .evaluation.trainer import TabularClassifierNet

    task = "classification" if isinstance(net, TabularClassifierNet) else "regression"
    params = net.get_params(deep=False)
    module_params = {k[len("module__"):]: v for k, v in net.get_params(deep=True).items()
                     if k in ("module__space", "module__genotype", "module__n_inputs", "module__n_outputs")}
    missing = {"space", "genotype", "n_inputs", "n_outputs"} - set(module_params)
    if missing:
        raise ValueError(f"sknas.io.save: the network lacks the module parameters {sorted(missing)}.")
    recipe = {
        "class": _class_path(net),
        "task": task,
        "space": encode(module_params["space"], "net.space"),
        "genotype": encode(Genotype(module_params["genotype"]), "net.genotype"),
        "n_inputs": int(module_params["n_inputs"]),
        "n_outputs": int(module_params["n_outputs"]),
        "batch_size": int(params["batch_size"]),
        "max_epochs": int(params["max_epochs"]),
        "history": encode(list(net.history_) if hasattr(net, "history_") else [], "net.history"),
    }
    if task == "classification":
        recipe["classes"] = encode(np.asarray(net.classes_), "net.classes")
    else:
        recipe["target_mean"] = encode(np.asarray(net.target_mean_, dtype=np.float64), "net.target_mean")
        recipe["target_scale"] = encode(np.asarray(net.target_scale_, dtype=np.float64), "net.target_scale")
    return recipe


def _models_to_members(encode):
    """The recipes (JSON) and archive members (preprocessing, weights) of the models ``encode`` collected."""
    import torch

    recipes, members = [], {}
    for i, model in enumerate(encode.models):  # grows while recipes are encoded: none hold models
        recipes.append(_net_recipe(model.named_steps["net"], encode))
        members[preprocessing_member(i)] = _skops_dumps(model.named_steps["preprocessing"],
                                                        f"the preprocessing of model {i}")
        state = {k: v.detach().to("cpu").clone() for k, v in model.named_steps["net"].module_.state_dict().items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        members[weights_member(i)] = buffer.getvalue()
    return recipes, members


def _objects_member(encode):
    return _skops_dumps({k: v for k, (_, v) in encode.objects.items()},
                        ", ".join(w for w, _ in encode.objects.values()))


def _models_from_members(recipes, members, trusted, device):
    """The decoder of a file's JSON, with its objects and its fitted models rebuilt (see ``_models_to_members``)."""
    from sklearn.pipeline import Pipeline

    objects = {}
    if OBJECTS in members:
        objects = _skops_loads(members[OBJECTS], OBJECTS, trusted)
        if not isinstance(objects, dict):
            raise UnsafeFileError(f"{OBJECTS} in the model file is not a dict.")
    if not isinstance(recipes, list):
        raise UnsafeFileError("the model recipes are not a list.")
    parts = []
    for i in range(len(recipes)):
        for member in (weights_member(i), preprocessing_member(i)):
            if member not in members:
                raise ValueError(f"the file is incomplete: it has no {member}.")
        prep = _skops_loads(members[preprocessing_member(i)], preprocessing_member(i), trusted)
        state = _load_weights(members[weights_member(i)], weights_member(i), device)
        parts.append((prep, state))
    decode = _Decoder(objects, [])
    for recipe, (prep, state) in zip(recipes, parts):
        net = _rebuild_net(recipe, decode, state, device)
        decode.models.append(Pipeline([("preprocessing", prep), ("net", net)]))
    return decode


def save(estimator, path, metadata=None):
    """Write a fitted sknas estimator to ``path`` as one zip file, without pickle.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        A fitted estimator (ensembles included).
    path : str or path-like
        The file to write (conventionally ``*.sknas``); replaced if present.
    metadata : dict or None, default=None
        JSON-serializable extra information kept in the file (the CLI stores
        the target column's name); read it back with :func:`read_metadata`.

    Returns
    -------
    path : str

    See Also
    --------
    load : read the file back.
    """
    check_is_fitted(estimator, "best_estimator_")
    task = getattr(estimator, "_task", None)
    if task not in ("classification", "regression") or type(estimator).__module__.split(".")[0] != "sknas":
        raise TypeError(f"sknas.io.save saves sknas estimators only. Got {type(estimator).__name__} instead.")
    if not _is_model(estimator.best_estimator_):
        raise ValueError(
            "sknas.io.save: best_estimator_ must be a Pipeline of the steps ['preprocessing', 'net'] with a "
            f"fitted sknas net. Got {estimator.best_estimator_!r} instead."
        )
    import sklearn
    import torch

    from . import __version__

    encode = _Encoder()
    fitted = {"best_estimator_": encode(estimator.best_estimator_, "best_estimator_")}  # model 0
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_") and name not in _REBUILT and name not in fitted:
            fitted[name] = encode(value, name)
    params = encode(estimator.get_params(deep=False), "params")
    recipes, model_members = _models_to_members(encode)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sknas_version": __version__,
        "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
        "estimator": _class_path(estimator),
        "params": params,
        "fitted": fitted,
        "models": recipes,
        "metadata": metadata if metadata is not None else {},
    }
    try:
        manifest_text = json.dumps(manifest, indent=1)
    except TypeError as exc:
        raise ValueError(f"sknas.io.save: metadata must be JSON-serializable ({exc}).") from None
    members = {MANIFEST: manifest_text.encode("utf-8"), **model_members}
    if encode.objects:
        members[OBJECTS] = _objects_member(encode)

    write_archive(path, members)  # atomic: a crash mid-write never leaves a half-written model
    return os.fspath(path)


# ---------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------
def _open(path, expected_sha256=None):
    """The checked members and parsed ``sknas.json`` of a model file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file: {path!r}.")
    if expected_sha256 is not None:
        actual = file_digest(path)
        if not isinstance(expected_sha256, str) or actual != expected_sha256.strip().lower():
            raise UnsafeFileError(
                f"{path!r} is not the pinned model file: its SHA-256 is {actual}. "
                f"Got expected_sha256={expected_sha256!r} instead."
            )
    members, checked = read_archive(path)
    if MANIFEST not in members:
        raise ValueError(f"{path!r} is not a sknas model file (it has no {MANIFEST}).")
    try:
        manifest = json.loads(members[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsafeFileError(f"{path!r}: its {MANIFEST} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a sknas model file (unknown format).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written in format version {version!r}; this sknas reads versions up to "
            f"{FORMAT_VERSION}. Upgrade sknas."
        )
    if not checked:
        if version >= 2:
            raise UnsafeFileError(f"{path!r} was altered after it was saved: its {HASHES} was removed.")
        warnings.warn(
            f"{path!r} was saved by an older sknas (format version {version}) without content digests: "
            "its integrity cannot be checked. Save it again to add them.", UserWarning, stacklevel=3,
        )
    models = manifest.get("models")
    if not isinstance(models, list) or not models:
        raise ValueError(f"{path!r} is incomplete: it describes no model.")
    for i in range(len(models)):
        for member in (weights_member(i), preprocessing_member(i)):
            if member not in members:
                raise ValueError(f"{path!r} is incomplete: it has no {member}.")
    return members, manifest


def read_metadata(path):
    """The ``metadata`` dict given to :func:`save`, read without loading the model."""
    _, manifest = _open(path)
    return dict(manifest.get("metadata") or {})


def _load_weights(data, member, device):
    import pickle

    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeFileError(f"{member} in the model file is not plain tensors and was not loaded: {first}") from None
    except Exception as exc:
        raise UnsafeFileError(f"{member} in the model file could not be read: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UnsafeFileError(f"{member} in the model file is not a state dict of tensors.")
    return state


def _rebuild_net(recipe, decode, state, device):
    """The fitted skorch net of a recipe: built as ``make_net`` builds it, initialized, weights loaded."""
    from skorch.history import History

    from .evaluation.trainer import make_net

    task = recipe["task"]
    if task not in ("classification", "regression"):
        raise ValueError(f"the model file has an unknown task {task!r}.")
    space = decode(recipe["space"])
    genotype = decode(recipe["genotype"])
    classes = decode(recipe["classes"]) if task == "classification" else None
    net = make_net(space, genotype, task, recipe["n_inputs"], recipe["n_outputs"], classes=classes,
                   max_epochs=recipe["max_epochs"], device=device)
    if _class_path(net) != recipe["class"]:
        raise ValueError(f"the model file's network is a {recipe['class']}, but sknas builds a {_class_path(net)} now.")
    net.set_params(batch_size=recipe["batch_size"])
    net.initialize()
    try:
        net.module_.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights in the model file do not fit its network: {exc}") from None
    net.module_.eval()
    net.history_ = History(decode(recipe["history"]))
    if task == "regression":
        net.set_target_statistics(decode(recipe["target_mean"]), decode(recipe["target_scale"]))
    return net


def load(path, trusted=None, device="cpu", expected_sha256=None):
    """Read a fitted estimator written by :func:`save`, after checking the file's digests.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str or None, default=None
        Extra type names (as skops reports them, e.g. ``"mymodule.my_func"``)
        to trust in the file's skops parts, for files holding your own
        transformers or scorers. Only pass names whose source you trust.
    device : str, default="cpu"
        Torch device the network's weights are mapped to.
    expected_sha256 : str or None, default=None
        The file's SHA-256 hex digest as :func:`file_digest` (or
        ``sha256sum``) gave it when you saved it: any other file is refused
        before it is read.

    Returns
    -------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted, with predictions equal to the saved estimator's.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    UnsafeFileError
        When the file cannot be read as an archive (empty, truncated,
        corrupted), a member does not match the digest recorded at save
        (or the whole file does not match ``expected_sha256``), or the file
        names a class outside the sknas package, holds untrusted skops
        types, or its weights are not plain tensors.
    ValueError
        When the file is not a sknas model file or is incomplete.
    """
    members, manifest = _open(path, expected_sha256=expected_sha256)
    try:
        return _load_checked(members, manifest, trusted, device)
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{os.fspath(path)!r}: {exc}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a well-formed archive with a malformed sknas.json
        raise UnsafeFileError(
            f"{os.fspath(path)!r}: its {MANIFEST} is malformed ({type(exc).__name__}: {exc})."
        ) from None
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)!r}: {exc}") from None


def _load_checked(members, manifest, trusted, device):
    from .search.base import make_searcher

    decode = _models_from_members(manifest["models"], members, trusted, device)
    cls = _resolve_sknas_class(manifest.get("estimator"))
    if getattr(cls, "_task", None) not in ("classification", "regression"):
        raise UnsafeFileError(f"the model file names {manifest.get('estimator')!r}, which is not a sknas estimator.")
    params = decode(manifest["params"])
    if not isinstance(params, dict):
        raise ValueError("the model file's estimator parameters are not a dict.")
    estimator = cls(**params)
    fitted = manifest.get("fitted", {})
    for name, value in fitted.items():
        if not (isinstance(name, str) and name.endswith("_") and name.isidentifier()) or name.startswith("_"):
            raise UnsafeFileError(f"the model file sets an invalid attribute {name!r}.")
        setattr(estimator, name, decode(value))
    if not _is_model(getattr(estimator, "best_estimator_", None)):
        raise ValueError("the model file has no best_estimator_ model.")
    space = getattr(estimator, "space_", None)
    try:
        searcher = clone(make_searcher(estimator.search))
        estimator.searcher_ = searcher.setup(space, None) if space is not None else searcher
    except (TypeError, ValueError):  # a searcher this version no longer has; nothing needs it to predict
        pass
    return estimator
