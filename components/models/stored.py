"""A trained model on disk: model.pt (weights only) + model.json (what rebuilds it). Evaluation, the registry
and serving load it the same way, so loading never unpickles code."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch


def save(model, family: str, dataset: str, data, out: Path) -> Path:
    """`data`: the Tensors it was trained on (their classes, and a pair's members, go into model.json)."""
    spec = {"family": family, "kind": model.kind, "hp": dataclasses.asdict(model.hp),
            "image_shape": list(model.image_shape), "num_classes": len(data.classes), "classes": list(data.classes),
            "dataset": dataset, **({"members": list(data.members)} if data.members else {})}
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    (out / "model.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return out


def build(spec: dict, weights: Path, device: str = "cpu"):
    from components.models.registry import get_family

    model = get_family(spec["family"]).build(tuple(spec["image_shape"]), int(spec["num_classes"]), spec["hp"])
    model.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    return model.to(device).eval()


def load(model_dir: Path, device: str = "cpu"):
    model_dir = Path(model_dir)
    return build(json.loads((model_dir / "model.json").read_text()), model_dir / "model.pt", device)
