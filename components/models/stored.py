"""A trained model on disk: model.pt (weights only) + model.json, its card (what rebuilds it and what it was trained
on). Evaluation, the registry and serving load it the same way, so loading never unpickles code."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from components.data.tensors import Tensors
    from components.models.base import GenerativeModel


@dataclass(frozen=True)
class ModelCard:
    """model.json as a typed value: written by `save`, read by `card` (its hyperparameters come back as the
    family's typed hp, checked as a configured family's are)."""

    family: str
    kind: str
    hp: Any  # an instance of the family's @hyperparameters class
    image_shape: tuple[int, int, int]  # (C, H, W) the model was built for
    num_classes: int
    classes: tuple[str, ...]
    dataset: str
    members: tuple[str, str] | None = None  # a domain pair's two datasets (A, B)

    @staticmethod
    def of(model: GenerativeModel, family: str, dataset: str, data: Tensors) -> ModelCard:
        return ModelCard(family, model.kind, model.hp, model.image_shape, len(data.classes), tuple(data.classes),
                         dataset, data.members)

    def dump(self) -> dict:
        out = {**dataclasses.asdict(self), "image_shape": list(self.image_shape), "classes": list(self.classes),
               "hp": dataclasses.asdict(self.hp)}
        if self.members is None:
            del out["members"]
        else:
            out["members"] = list(self.members)
        return out

    @staticmethod
    def load(raw: dict, where: str = "model.json") -> ModelCard:
        from components.models.registry import get_family

        c, h, w = (int(v) for v in raw["image_shape"])
        members = raw.get("members")
        return ModelCard(raw["family"], raw["kind"], get_family(raw["family"]).hyperparameters(raw["hp"], where),
                         (c, h, w), int(raw["num_classes"]), tuple(raw.get("classes", ())), raw.get("dataset", ""),
                         (str(members[0]), str(members[1])) if members else None)

    def build(self, weights: Path, device: str = "cpu") -> GenerativeModel:
        from components.models.registry import get_family

        from components.errors import GenzooError

        model = get_family(self.family).build(self.image_shape, self.num_classes, self.hp)
        state = torch.load(weights, map_location=device, weights_only=True)
        mine = model.state_dict()
        differ = sorted(set(mine) ^ set(state)) or [k for k in mine if mine[k].shape != state[k].shape]
        if differ:  # load_state_dict would say so in a page of text
            raise GenzooError(f"{weights}: saved by a {self.family} network this version no longer builds (first "
                              f"of {len(differ)} differing tensors: {differ[0]}); retrain it (`genzoo run`)")
        model.load_state_dict(state)
        return model.to(device).eval()


def save(model: GenerativeModel, family: str, dataset: str, data: Tensors, out: Path) -> Path:
    """`data`: the Tensors it was trained on (their classes, and a pair's members, go into model.json)."""
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    card_text = json.dumps(ModelCard.of(model, family, dataset, data).dump(), indent=2, sort_keys=True)
    (out / "model.json").write_text(card_text + "\n")
    return out


def card(path: Path) -> ModelCard:
    """The card in `path` (a model.json, or the folder that holds one)."""
    path = Path(path)
    path = path / "model.json" if path.is_dir() else path
    return ModelCard.load(json.loads(path.read_text()), str(path))


def load(model_dir: Path, device: str = "cpu") -> GenerativeModel:
    model_dir = Path(model_dir)
    return card(model_dir).build(model_dir / "model.pt", device)
