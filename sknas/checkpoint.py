"""Checkpoints of a search, written and read without pickle.

A checkpoint (``checkpoint=path``) holds what a later fit needs to continue
a search: the trials recorded so far, the searcher with its internal state,
the best model and the ensemble library, the runner's random generator.
It is an archive written by :func:`sknas.io.write_archive` (atomically,
with the SHA-256 of every member in ``hashes.json``):

``checkpoint.json``
    The format, its version, the fingerprint of the data and settings of the
    fit that wrote it, and the search state as tagged JSON (below).
``arrays/<n>.npy``
    numpy arrays, read with ``np.load(allow_pickle=False)``.
``tensors.pt``
    torch tensors (a searcher's controller, its optimizer's moments, a
    generator's state), read with ``torch.load(weights_only=True)``.
``models/<i>/...``, ``objects.skops``
    Fitted pipelines and scikit-learn objects, stored as :mod:`sknas.io`
    stores them in model files (skops, with its allow-list, and plain
    tensors).

The tagged JSON describes an object graph: containers (list, tuple, dict,
set, frozenset, deque, OrderedDict, defaultdict), numbers, strings, bytes,
genotypes, numpy and torch random generators, and objects of the classes of
the ``sknas`` package, of a short list of torch classes (the modules and
optimizers a searcher holds) and of the classes of the estimator's own
``space``, ``search`` and ``preprocessing`` objects (taken from the
estimator, never imported by the name in the file). Reading one rebuilds each object with
``object.__new__`` and assigns its attributes: no constructor, no
``__reduce__``, no ``__setstate__`` of any other package runs, no function
named in the file is ever called, and the file's fingerprint and version are
checked before its state is decoded. An old checkpoint in pickle format is
refused without being unpickled.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import numbers
import os

import numpy as np

from .io import UnsafeFileError, _import_named, read_archive, write_archive

__all__ = ["FORMAT_VERSION", "Checkpoint", "open_checkpoint", "write_checkpoint"]

FORMAT = "sknas-checkpoint"
FORMAT_VERSION = 2  # 1 was a pickle, never read
HEADER = "checkpoint.json"
TENSORS = "tensors.pt"
WHAT = "sknas checkpoint"

# numpy bit generators a generator state may name
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# callables a defaultdict may name as its factory (the only references a checkpoint holds)
_FACTORIES = {"dict": dict, "list": list, "set": set, "int": int, "float": float}
# torch classes besides sknas's own that searchers hold: modules and optimizers (plain
# tensors and numbers once their attributes are set)
_TORCH_PREFIXES = ("torch.nn.modules.", "torch.optim.")


def _class_path(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed_class(cls):
    """Whether objects of ``cls`` may be stored and rebuilt attribute by attribute."""
    module = getattr(cls, "__module__", "") or ""
    if module.split(".")[0] == "sknas":
        return True
    if module.startswith(_TORCH_PREFIXES):
        import torch

        return issubclass(cls, (torch.nn.Module, torch.optim.Optimizer))
    return False


def _resolve_class(path):
    if not isinstance(path, str) or ":" not in path:
        raise UnsafeFileError(f"invalid class path {path!r}.")
    module_name, qualname = path.split(":", 1)
    if not (module_name.split(".")[0] == "sknas" or module_name.startswith(_TORCH_PREFIXES)):
        raise UnsafeFileError(f"the checkpoint names the class {path!r}; only sknas classes (and torch modules "
                              "and optimizers) are rebuilt.")
    obj = _import_named(module_name, qualname, "the checkpoint")
    if not isinstance(obj, type) or not _allowed_class(obj):
        raise UnsafeFileError(f"the checkpoint names {path!r}, which is not a class that may be rebuilt.")
    return obj


def _describe(key):
    """A dict key as an error message shows it (a tensor key is not printed: that is slow and long)."""
    return repr(key) if isinstance(key, (str, int, float, bool, type(None))) else f"<{type(key).__name__}>"


def _is_sklearn_object(value):
    return type(value).__module__.split(".")[0] == "sklearn"


# ---------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------
class _Encoder:
    """Turns a state graph into tagged JSON, arrays, tensors, models and skops objects."""

    def __init__(self, trusted=()):
        from .io import _Encoder as ModelEncoder

        self.trusted = tuple(trusted)

        self.arrays = []
        self.tensors = {}
        self.models = ModelEncoder()  # collects fitted pipelines and what JSON cannot hold (skops)
        self.memo = {}  # id -> node id, for objects, tensors and generators shared in the graph
        self._keep = []  # keeps encoded objects alive so that ids stay unique
        self._active = set()  # ids of the containers being encoded (a cycle through them is refused)

    def _memo(self, value):
        key = id(value)
        if key in self.memo:
            return {"t": "ref", "id": self.memo[key]}, None
        self.memo[key] = len(self.memo)
        self._keep.append(value)
        return None, self.memo[key]

    def __call__(self, value, where="state"):
        if type(value) in (list, tuple, dict, set, frozenset, collections.deque, collections.OrderedDict,
                           collections.defaultdict):
            if id(value) in self._active:  # objects may refer to themselves (memo); containers may not
                raise ValueError(f"{where} is a {type(value).__name__} that contains itself, which a checkpoint "
                                 "cannot store.")
            self._active.add(id(value))
            try:
                return self._encode(value, where)
            finally:
                self._active.discard(id(value))
        return self._encode(value, where)

    def _encode(self, value, where):
        import torch

        from .io import _is_model
        from .space.genotype import Genotype

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) is int:
            return value
        if type(value) is float:
            return value
        if isinstance(value, list) and type(value) is list:
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Genotype):
            return {"t": "genotype", "v": self(value.to_dict(), where)}
        if isinstance(value, tuple) and type(value) is tuple:
            return {"t": "tuple", "v": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) in (set, frozenset):
            return {"t": type(value).__name__, "v": [self(v, f"{where}{{}}") for v in value]}
        if type(value) is collections.deque:
            return {"t": "deque", "v": [self(v, f"{where}[{i}]") for i, v in enumerate(value)],
                    "maxlen": value.maxlen}
        if type(value) in (dict, collections.OrderedDict, collections.defaultdict):
            node = {"t": {dict: "dict", collections.OrderedDict: "odict",
                          collections.defaultdict: "ddict"}[type(value)],
                    "items": [[self(k, f"{where} key"), self(v, f"{where}[{_describe(k)}]")]
                              for k, v in value.items()]}
            if type(value) is collections.defaultdict:
                names = [name for name, f in _FACTORIES.items() if f is value.default_factory]
                if value.default_factory is not None and not names:
                    raise ValueError(f"{where}: a defaultdict of {value.default_factory!r} cannot be stored.")
                node["factory"] = names[0] if names else None
            return node
        if isinstance(value, bytes) and type(value) is bytes:
            return {"t": "bytes", "v": base64.b64encode(value).decode("ascii")}
        if isinstance(value, np.generic) and value.dtype.kind in "biufc":
            return {"t": "npscalar", "dtype": value.dtype.str, "v": self(value.item(), where)}
        if isinstance(value, np.dtype):
            return {"t": "dtype", "v": value.str}
        if isinstance(value, np.ndarray) and type(value) is np.ndarray:
            if value.dtype.hasobject:
                return {"t": "objarray", "shape": list(value.shape),
                        "v": [self(v, f"{where}[...]") for v in value.ravel().tolist()]}
            self.arrays.append(value)
            return {"t": "array", "k": len(self.arrays) - 1}
        if isinstance(value, np.random.Generator):
            ref, node_id = self._memo(value)
            if ref:
                return ref
            return {"t": "npgen", "id": node_id, "state": self(value.bit_generator.state, where)}
        if isinstance(value, np.random.RandomState):
            ref, node_id = self._memo(value)
            if ref:
                return ref
            return {"t": "randomstate", "id": node_id, "state": self(value.get_state(legacy=False), where)}
        if isinstance(value, torch.Tensor):
            ref, node_id = self._memo(value)
            if ref:
                return ref
            if type(value) not in (torch.Tensor, torch.nn.Parameter):
                raise ValueError(f"{where}: a tensor of type {type(value).__name__} cannot be stored.")
            key = str(len(self.tensors))
            self.tensors[key] = value.detach().to("cpu").clone()
            return {"t": "tensor", "id": node_id, "k": key, "parameter": isinstance(value, torch.nn.Parameter),
                    "requires_grad": bool(value.requires_grad), "device": str(value.device)}
        if isinstance(value, torch.Generator):
            ref, node_id = self._memo(value)
            if ref:
                return ref
            return {"t": "torchgen", "id": node_id, "device": str(value.device), "state": self(value.get_state(), where)}
        if isinstance(value, torch.dtype):
            return {"t": "torchdtype", "v": str(value).replace("torch.", "")}
        if isinstance(value, torch.device):
            return {"t": "torchdevice", "v": str(value)}
        if _is_model(value):
            return {"t": "model", "v": self.models(value, where)}
        if _is_sklearn_object(value):
            return {"t": "skops", "v": self.models(value, where)}
        if isinstance(value, numbers.Integral):  # an int subclass (bool handled above)
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        cls = type(value)
        allowed = _allowed_class(cls) or cls in self.trusted
        if isinstance(value, tuple) and hasattr(cls, "_fields") and allowed:  # a sknas namedtuple
            return {"t": "namedtuple", "class": _class_path(cls), "v": [self(v, f"{where}.{f}")
                                                                       for f, v in zip(cls._fields, value)]}
        if not allowed:
            raise ValueError(
                f"{where} is a {cls.__module__}.{cls.__qualname__}, which a checkpoint cannot store "
                "(only plain data, numpy and torch values, objects of sknas classes and of the classes of "
                "the estimator's own space, search and preprocessing)."
            )
        ref, node_id = self._memo(value)
        if ref:
            return ref
        if cls.__module__.split(".")[0] == "sknas" or cls in self.trusted:
            # what pickling would store (sknas classes drop caches and data there), or a checkpoint-specific view
            getter = getattr(value, "_checkpoint_state", None)
            state = getter() if getter is not None else value.__getstate__()
        else:  # a torch module or optimizer: its attributes as they are
            state = dict(vars(value))
        slots = None
        if isinstance(state, tuple) and len(state) == 2:  # (dict or None, slots dict): classes with __slots__
            state, slots = state
        if state is not None and not isinstance(state, dict):
            raise ValueError(f"{where}: the state of a {cls.__qualname__} is not a dict.")
        node = {"t": "object", "id": node_id, "class": _class_path(cls)}
        if state:
            node["dict"] = {str(k): self(v, f"{where}.{k}") for k, v in state.items()}
        if slots:
            node["slots"] = {str(k): self(v, f"{where}.{k}") for k, v in slots.items()}
        return node


# ---------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, arrays, tensors, model_decode, trusted=()):
        self.arrays = arrays
        self.tensors = tensors
        self.model_decode = model_decode
        self.trusted = {_class_path(cls): cls for cls in trusted}
        self.memo = {}

    def _class(self, path):
        # a class the caller trusts (the estimator's own parameter objects) is taken from the caller, never
        # imported by the name in the file
        return self.trusted[path] if isinstance(path, str) and path in self.trusted else _resolve_class(path)

    def _remember(self, node, value):
        node_id = node.get("id")
        if not isinstance(node_id, int) or node_id in self.memo:
            raise UnsafeFileError(f"invalid or repeated object id {node_id!r} in the checkpoint.")
        self.memo[node_id] = value
        return value

    def _list(self, node, key="v"):
        values = node.get(key)
        if not isinstance(values, list):
            raise UnsafeFileError(f"a {node.get('t')!r} entry of the checkpoint has no list {key!r}.")
        return [self(v) for v in values]

    def __call__(self, node):
        import torch

        from .space.genotype import Genotype

        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self(v) for v in node]
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise UnsafeFileError(f"invalid entry in the checkpoint: {str(node)[:80]!r}.")
        tag = node["t"]
        if tag == "ref":
            try:
                return self.memo[node["id"]]
            except (KeyError, TypeError):
                raise UnsafeFileError(f"the checkpoint refers to an unknown object {node.get('id')!r}.") from None
        if tag == "genotype":
            values = self(node.get("v"))
            if not isinstance(values, dict):
                raise UnsafeFileError("a genotype in the checkpoint is not a dict.")
            return Genotype(values)
        if tag == "tuple":
            return tuple(self._list(node))
        if tag == "set":
            return set(self._list(node))
        if tag == "frozenset":
            return frozenset(self._list(node))
        if tag == "deque":
            maxlen = node.get("maxlen")
            if maxlen is not None and not isinstance(maxlen, int):
                raise UnsafeFileError(f"invalid deque length {maxlen!r} in the checkpoint.")
            return collections.deque(self._list(node), maxlen)
        if tag in ("dict", "odict", "ddict"):
            if tag == "ddict":
                factory = node.get("factory")
                if factory is not None and factory not in _FACTORIES:
                    raise UnsafeFileError(f"the checkpoint names the defaultdict factory {factory!r}.")
                out = collections.defaultdict(None if factory is None else _FACTORIES[factory])
            else:
                out = {} if tag == "dict" else collections.OrderedDict()
            items = node.get("items")
            if not isinstance(items, list):
                raise UnsafeFileError("a dict entry of the checkpoint has no list of items.")
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise UnsafeFileError("a dict entry of the checkpoint is not a [key, value] pair.")
                out[self(pair[0])] = self(pair[1])
            return out
        if tag == "bytes":
            return base64.b64decode(node["v"], validate=True)
        if tag == "npscalar":
            dtype = np.dtype(node["dtype"])
            if dtype.kind not in "biufc":
                raise UnsafeFileError(f"invalid numpy scalar type {node['dtype']!r} in the checkpoint.")
            return dtype.type(self(node["v"]))
        if tag == "dtype":
            return np.dtype(node["v"])
        if tag == "array":
            return self.arrays[node["k"]]
        if tag == "objarray":
            values = self._list(node)
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out.reshape([int(d) for d in node["shape"]])
        if tag == "npgen":
            state = self(node["state"])
            name = state.get("bit_generator") if isinstance(state, dict) else None
            if name not in _BIT_GENERATORS:
                raise UnsafeFileError(f"the checkpoint names the bit generator {name!r}.")
            bit_generator = getattr(np.random, name)()
            bit_generator.state = state
            return self._remember(node, np.random.Generator(bit_generator))
        if tag == "randomstate":
            rs = np.random.RandomState()
            rs.set_state(self(node["state"]))
            return self._remember(node, rs)
        if tag == "tensor":
            try:
                tensor = self.tensors[node["k"]]
            except KeyError:
                raise UnsafeFileError(f"the checkpoint refers to a missing tensor {node['k']!r}.") from None
            if node.get("parameter"):
                tensor = torch.nn.Parameter(tensor, requires_grad=bool(node.get("requires_grad")))
            else:
                tensor.requires_grad_(bool(node.get("requires_grad")))
            return self._remember(node, tensor)
        if tag == "torchgen":
            generator = torch.Generator(device=str(node.get("device", "cpu")))
            self._remember(node, generator)
            state = self(node["state"])
            if not isinstance(state, torch.Tensor):
                raise UnsafeFileError("a torch generator state in the checkpoint is not a tensor.")
            generator.set_state(state)
            return generator
        if tag == "torchdtype":
            dtype = getattr(torch, str(node["v"]), None)
            if not isinstance(dtype, torch.dtype):
                raise UnsafeFileError(f"invalid torch dtype {node['v']!r} in the checkpoint.")
            return dtype
        if tag == "torchdevice":
            return torch.device(str(node["v"]))
        if tag in ("model", "skops"):
            return self.model_decode(node["v"])
        if tag == "namedtuple":
            cls = self._class(node.get("class"))
            values = self._list(node)
            if not issubclass(cls, tuple) or len(values) != len(getattr(cls, "_fields", ())):
                raise UnsafeFileError(f"invalid named tuple {node.get('class')!r} in the checkpoint.")
            return tuple.__new__(cls, values)
        if tag == "object":
            cls = self._class(node.get("class"))
            obj = object.__new__(cls)
            self._remember(node, obj)
            state = {k: self(v) for k, v in (node.get("dict") or {}).items()}
            slots = {k: self(v) for k, v in (node.get("slots") or {}).items()}
            for name in list(state) + list(slots):
                if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
                    raise UnsafeFileError(f"the checkpoint sets an invalid attribute {name!r}.")
            restore = getattr(cls, "_restore_checkpoint_state", None)
            if restore is not None:
                restore(obj, state)
            elif state:
                obj.__dict__.update(state)
            for name, value in slots.items():
                object.__setattr__(obj, name, value)
            return obj
        raise UnsafeFileError(f"unknown entry {tag!r} in the checkpoint.")


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------
def write_checkpoint(path, fingerprint, state, trusted=()):
    """Write ``state`` (a :meth:`Runner.state` dict) and ``fingerprint`` to ``path`` atomically.

    ``trusted``: classes besides sknas's own whose objects may be stored (the
    classes of the estimator's own ``space``, ``search`` and
    ``preprocessing``); reading the file needs the same ones.
    """
    import torch

    from .io import _models_to_members, _objects_member

    encode = _Encoder(trusted)
    encoded = encode(state)
    recipes, members = _models_to_members(encode.models)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "fingerprint": fingerprint,
              "models": recipes, "n_arrays": len(encode.arrays), "state": encoded}
    members[HEADER] = json.dumps(header).encode("utf-8")
    for i, array in enumerate(encode.arrays):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members[f"arrays/{i}.npy"] = buffer.getvalue()
    if encode.tensors:
        buffer = io.BytesIO()
        torch.save(encode.tensors, buffer)
        members[TENSORS] = buffer.getvalue()
    if encode.models.objects:
        from .io import OBJECTS

        members[OBJECTS] = _objects_member(encode.models)
    return write_archive(path, members, compress_binary=False)


class Checkpoint:
    """A checkpoint file whose archive, digests, format and version were checked.

    ``fingerprint`` is read at once; :meth:`state` decodes the search state
    (check the fingerprint first).
    """

    def __init__(self, path, members, header):
        self.path = path
        self.fingerprint = header.get("fingerprint")
        self._members = members
        self._header = header

    def state(self, device="cpu", trusted=()):
        """The search state written by :func:`write_checkpoint`, rebuilt without running code from the file.

        ``trusted``: the classes given to :func:`write_checkpoint`, trusted in
        the state and in the skops parts (a custom preprocessing).
        """
        try:
            return self._decode(device, tuple(trusted))
        except UnsafeFileError as exc:
            raise UnsafeFileError(f"{self.path!r}: {exc}") from None
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError, RuntimeError) as exc:
            raise UnsafeFileError(
                f"{self.path!r} is not a valid {WHAT}: its state could not be read "
                f"({type(exc).__name__}: {exc})."
            ) from None

    def _decode(self, device, trusted):
        from .io import _load_weights, _models_from_members

        members, header = self._members, self._header
        arrays = []
        for i in range(int(header.get("n_arrays", 0))):
            name = f"arrays/{i}.npy"
            if name not in members:
                raise UnsafeFileError(f"it lacks {name}.")
            arrays.append(np.load(io.BytesIO(members[name]), allow_pickle=False))
        tensors = _load_weights(members[TENSORS], TENSORS, device) if TENSORS in members else {}
        skops_names = [f"{cls.__module__}.{cls.__qualname__}" for cls in trusted]
        model_decode = _models_from_members(header.get("models", []), members, skops_names, device)
        return _Decoder(arrays, dict(tensors), model_decode, trusted)(header["state"])


def open_checkpoint(path):
    """Open a checkpoint written by :func:`write_checkpoint`, checking it before anything is decoded.

    Raises
    ------
    ValueError
        (:class:`sknas.io.UnsafeFileError` for a damaged or altered file)
        when ``path`` is empty, truncated, corrupted, of another format or
        version, an old pickle checkpoint (never unpickled), or when a
        member does not match its recorded digest.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":  # a pickle (protocol 2 or later): sknas's former checkpoint format
        raise UnsafeFileError(
            f"{path!r} is a checkpoint in the former pickle format, which sknas no longer reads: unpickling "
            "a file can run any code. Delete it (or choose another checkpoint path) to start a new search."
        )
    members, checked = read_archive(path, what=WHAT)
    if not checked:
        raise UnsafeFileError(f"{path!r} is not a {WHAT}: it has no hashes.json.")
    try:
        header = json.loads(members[HEADER].decode("utf-8"))
    except KeyError:
        raise ValueError(f"{path!r} is not a {WHAT} (it has no {HEADER}).") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnsafeFileError(f"{path!r}: its {HEADER} is not valid JSON ({exc}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a {WHAT} (unknown format).")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path!r} is a {WHAT} of format version {version!r}; this sknas reads version {FORMAT_VERSION}. "
            "Delete it to start a new search, or resume it with the sknas version that wrote it."
        )
    return Checkpoint(path, members, header)
