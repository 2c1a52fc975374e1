"""The served generator: an MLflow pyfunc that turns {n, seed[, label]} rows into uint8 images (float32 (x, y)
points for a model of a 2-D mixture), and for a family with an encoder (models/base.Encoding) rows {images} (or
{images: [x, y]} points) into latent codes.

The model is rebuilt from the family registry and a weights_only state dict, so loading it never unpickles
code. Requests are bounded and a bad one raises INVALID_PARAMETER_VALUE, which the scoring server returns
as a 4xx with this message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModel

from components.data.mixtures import is_points
from components.images import to_float_images, to_uint8_images
from components.models.base import Encoding, Translator
from components.models.stored import ModelCard, card

MAX_IMAGES = 1024  # per request, all rows together
MAX_SEED = 2**63 - 1
FORMATS = ("array", "png")


def to_png_base64(image_hwc: np.ndarray) -> str:
    """One uint8 HWC image as a base64 PNG string (what a browser or `base64 -d > x.png` reads)."""
    import base64
    import io

    from PIL import Image

    arr = image_hwc[..., 0] if image_hwc.shape[-1] == 1 else image_hwc
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bad(msg: str) -> MlflowException:
    return MlflowException(msg, error_code=INVALID_PARAMETER_VALUE)


def generate(model, n: int, seed: int, label: int | None = None) -> np.ndarray:
    """n images as uint8 NHWC, or for a model of 2-D points n float32 (x, y) rows; the same (seed, label) always
    gives the same output."""
    rng = torch.Generator(device=next(model.parameters()).device).manual_seed(int(seed))
    labels = None if label is None else torch.full((n,), int(label), dtype=torch.long)
    x = model.sample(n, rng, labels)
    if is_points(model.image_shape):  # coordinates, not pixels: no 0..255 quantisation
        return x.detach().float().reshape(n, 2).cpu().numpy()
    return to_uint8_images(x).numpy()


class GeneratorPyfunc(PythonModel):
    def load_context(self, context):
        spec = Path(context.artifacts["spec"])  # the model's model.json
        self.card = card(spec)
        self.model = self.card.build(Path(context.artifacts["weights"]))

    def predict(self, context, model_input: pd.DataFrame, params=None):
        """Generators: rows {n, seed[, label]} -> uint8 NHWC. Translation models: a uint8 NHWC batch ->
        its translations (params.direction AtoB | BtoA). params.format=png returns base64 PNG strings."""
        params = params or {}
        fmt = params.get("format") or "array"
        if fmt not in FORMATS:
            raise _bad(f"params.format={fmt!r}: expected one of {FORMATS}")
        if fmt == "png" and is_points(self.card.image_shape):
            raise _bad("a model of 2-D points returns (x, y) rows, not pictures: drop params.format=png")
        if isinstance(self.model, Translator):
            images = self._translate(self.model, model_input, params.get("direction") or "AtoB")
        elif isinstance(self.model, Encoding) and _asks_codes(model_input):
            return self._encode(self.model, model_input)
        else:
            images = self._generate(_rows(model_input))
        return images if fmt == "array" else [to_png_base64(im) for im in images]

    def _generate(self, rows: list[dict]) -> np.ndarray:
        total = sum(r["n"] for r in rows)
        if total > MAX_IMAGES:
            raise _bad(f"asked for {total} images in one request; the limit is {MAX_IMAGES}")
        num_classes, conditional = self.card.num_classes, self.model.conditional
        out = []
        for r in rows:
            label = r.get("label")
            if label is not None and not conditional:
                raise _bad(f"family {self.card.family} is not class-conditional: drop 'label'")
            if label is not None and not 0 <= label < num_classes:
                raise _bad(f"label={label} is outside 0..{num_classes - 1}")
            out.append(generate(self.model, r["n"], r["seed"], label))
        return np.concatenate(out)

    def _encode(self, model: Encoding, model_input) -> np.ndarray:
        """Rows {images: one uint8 HWC image each} (or {"images": an NHWC batch}) -> float32 codes (N, z_dim)."""
        c, h, w = self.card.image_shape
        images = model_input["images"]
        rows = list(images) if isinstance(images, pd.Series) else images
        try:
            x = np.stack([np.asarray(r) for r in rows]) if isinstance(rows, list) else np.asarray(rows)
        except ValueError as exc:  # rows of different shapes
            raise _bad(f"images: every image must be shaped ({h}, {w}, {c}): {exc}") from None
        if is_points((c, h, w)):
            t = torch.from_numpy(_points_batch(x)).reshape(-1, 2, 1, 1)
        else:
            t = to_float_images(torch.from_numpy(np.ascontiguousarray(_uint8_batch(x, (h, w, c), "images"))))
        return model.encode(t.to(next(self.model.parameters()).device)).float().cpu().numpy()

    def _translate(self, model: Translator, images, direction: str) -> np.ndarray:
        """uint8 NHWC images of the source domain -> uint8 NHWC translations, same N, H, W."""
        if direction not in ("AtoB", "BtoA"):
            raise _bad(f"params.direction={direction!r}: expected 'AtoB' or 'BtoA'")
        _, h, w = self.card.image_shape
        ca, cb = model.domain_channels()
        want = (h, w, ca if direction == "AtoB" else cb)
        x = _uint8_batch(np.asarray(images), want, direction)
        t = to_float_images(torch.from_numpy(np.ascontiguousarray(x)))
        y = model.translate(t.to(next(self.model.parameters()).device), direction)
        return to_uint8_images(y).numpy()


def _uint8_batch(x: np.ndarray, want: tuple[int, int, int], what: str) -> np.ndarray:
    """An NHWC batch of `want` (H, W, C) images with values in 0..255, as uint8; bounded in count."""
    if x.ndim == 3 and want[2] == 1:
        x = x[..., None]
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        raise _bad(f"{what} takes images shaped (N, {want[0]}, {want[1]}, {want[2]}), got {x.shape}")
    if not 1 <= len(x) <= MAX_IMAGES:
        raise _bad(f"{len(x)} images in one request; send 1 to {MAX_IMAGES}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number):
            raise _bad(f"{what}: pixel values must be numbers, got {x.dtype}")
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 255):
            raise _bad("pixel values must lie in 0..255 (uint8)")
        x = x.astype(np.uint8)
    return x


def _points_batch(x: np.ndarray) -> np.ndarray:
    """An (N, 2) batch of finite (x, y) points as float32; bounded in count."""
    if x.ndim != 2 or x.shape[1] != 2:
        raise _bad(f"images takes (x, y) points shaped (N, 2) for a model of 2-D points, got {x.shape}")
    if not 1 <= len(x) <= MAX_IMAGES:
        raise _bad(f"{len(x)} points in one request; send 1 to {MAX_IMAGES}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise _bad("points must be finite numbers")
    return np.ascontiguousarray(x, dtype=np.float32)


def _asks_codes(model_input) -> bool:
    """Whether a request is {images: ...} (encode) rather than {n, seed[, label]} rows (generate)."""
    columns = model_input.keys() if isinstance(model_input, dict) else getattr(model_input, "columns", ())
    if "images" not in columns:
        return False
    if set(columns) - {"images"}:
        raise _bad(f"an encode request has the one column 'images'; got {sorted(columns)}")
    return True


def _rows(model_input) -> list[dict]:
    if isinstance(model_input, dict):
        model_input = pd.DataFrame([model_input])
    if not isinstance(model_input, pd.DataFrame) or model_input.empty:
        raise _bad("expected rows with columns n, seed and optionally label")
    missing = {"n", "seed"} - set(model_input.columns)
    if missing:
        raise _bad(f"missing column(s) {sorted(missing)}; expected n, seed and optionally label")
    unknown = sorted(set(model_input.columns) - {"n", "seed", "label"})
    if unknown:
        raise _bad(f"unknown column(s) {unknown}; expected n, seed and optionally label")
    rows = []
    for i, rec in enumerate(model_input.to_dict("records")):
        n, seed = _required(_integer(rec["n"], "n", i)), _required(_integer(rec["seed"], "seed", i))
        label = _integer(rec.get("label"), "label", i, missing_ok=True, whole_float_ok=True)
        if not 1 <= n <= MAX_IMAGES:
            raise _bad(f"row {i}: n={n} must be between 1 and {MAX_IMAGES}")
        if not 0 <= seed <= MAX_SEED:
            raise _bad(f"row {i}: seed={seed} must be between 0 and {MAX_SEED}")
        rows.append({"n": n, "seed": seed, "label": label})
    return rows


def _integer(value, field: str, row: int, missing_ok: bool = False, whole_float_ok: bool = False) -> int | None:
    """A JSON integer, strictly: 4.5, "4" and true are refused, not cast. A float is accepted only where pandas
    makes one of an integer (`label`, a column some rows leave out, arrives as float with NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        if missing_ok:
            return None
        raise _bad(f"row {row}: {field} is required")
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if whole_float_ok and isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise _bad(f"row {row}: {field} must be an integer, got {value!r} ({type(value).__name__})")


def _required(value: int | None) -> int:
    assert value is not None  # _integer raises for a missing value unless missing_ok
    return value


def signature_and_example(spec: ModelCard):
    """What the registered model takes and an example of it: {n, seed[, label]} rows for generators, a uint8
    image batch (and params.direction) for translation models."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    from components.models.registry import get_family

    c, h, w = spec.image_shape
    fmt = ParamSpec("format", "string", "array")
    model_cls = get_family(spec.family).model
    if not issubclass(model_cls, Translator):
        sig = signature((h, w, c), encodes=issubclass(model_cls, Encoding))
        return ModelSignature(inputs=sig.inputs, outputs=sig.outputs, params=ParamSchema([fmt])), {"n": 2, "seed": 0}

    ca = spec.hp.channels_a  # a Translator's hyperparameters split the channels between its domains
    channels = ca if ca == c - ca else -1  # domains with different channel counts share one loose spec
    image = Schema([TensorSpec(np.dtype(np.uint8), (-1, h, w, channels))])
    sig = ModelSignature(inputs=image, outputs=image,
                         params=ParamSchema([ParamSpec("direction", "string", "AtoB"), fmt]))
    return sig, np.zeros((2, h, w, ca), np.uint8)


def signature(image_shape_hwc: tuple[int, int, int], encodes: bool = False):
    """Columns typed Any on purpose: with `long`, MLflow's scoring server casts each value before `predict` sees
    it (4.5 -> 4, "4" -> 4, true -> 1); `_rows` checks them as they were sent. A model that `encodes` also takes
    an `images` column (one HWC image per row) instead of n and seed, which `_rows` then requires itself."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec
    from mlflow.types.schema import AnyType

    columns: list[ColSpec | TensorSpec] = [ColSpec(AnyType(), "n", required=not encodes),
                                           ColSpec(AnyType(), "seed", required=not encodes),
                                           ColSpec(AnyType(), "label", required=False)]
    if encodes:
        columns.append(ColSpec(AnyType(), "images", required=False))
    if is_points((image_shape_hwc[2], *image_shape_hwc[:2])):  # (x, y) rows
        out = TensorSpec(np.dtype(np.float32), (-1, 2))
    else:
        out = TensorSpec(np.dtype(np.uint8), (-1, *image_shape_hwc))
    return ModelSignature(inputs=Schema(columns), outputs=Schema([out]))


def pip_requirements() -> list[str]:
    import importlib.metadata as md

    return [f"{p}=={md.version(p)}" for p in ("mlflow", "torch", "numpy", "pandas")]
