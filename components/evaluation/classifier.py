"""The reference classifier: a small CNN trained on the training split, whose penultimate features and
logits give FID / IS / precision-recall in seconds on any machine (`*_classifier` metrics).

Its numbers are comparable only between runs that share the same classifier (same data version, params,
seed); the `fid_inception` metrics are the ones comparable with papers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from components import progress
from components.config.schema import Classifier
from components.errors import DataError
from components.hardware import pick_device
from components.images import to_float_images
from components.training.loop import BatchOrder


class ReferenceClassifier(nn.Module):
    def __init__(self, channels: int, num_classes: int, feature_dim: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(64 * 16, feature_dim), nn.ReLU(True),
        )
        self.head = nn.Linear(feature_dim, num_classes)
        self.num_features = feature_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(train_x: torch.Tensor, train_y: torch.Tensor, num_classes: int, cfg: Classifier, seed: int,
                     device: str = "auto") -> ReferenceClassifier:
    """train_x: uint8 NHWC. Plain Adam + cross-entropy; a couple of epochs reach ~99% on MNIST."""
    dev = pick_device(device)
    torch.manual_seed(seed)
    model = ReferenceClassifier(train_x.shape[-1], num_classes, cfg.feature_dim).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = BatchOrder(len(train_x), cfg.batch_size, seed)
    # small datasets (UCI digits: 12 batches an epoch) need more epochs than large ones to become a usable judge
    steps = max(cfg.epochs * order.per_epoch, cfg.min_steps)
    model.train()
    for step in progress.bar(range(steps), "reference classifier", unit="step"):
        idx = order.indices(step)
        x, y = to_float_images(train_x[idx]).to(dev), train_y[idx].to(dev)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: ReferenceClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    dev = next(model.parameters()).device
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = model(to_float_images(x[i:i + batch_size]).to(dev))
        correct += int((logits.argmax(1).cpu() == y[i:i + batch_size]).sum())
    return correct / len(x)


def refuse_unskilled(accuracy_: float, num_classes: int, min_skill: float, dataset: str) -> None:
    """DataError when the classifier's test accuracy is too close to chance for its features to judge samples."""
    chance = 1 / num_classes
    need = chance + min_skill * (1 - chance)
    if min_skill > 0 and accuracy_ < need:
        raise DataError(
            f"{dataset}'s reference classifier reached {accuracy_:.1%} test accuracy (chance {chance:.1%}; "
            f"classifier.min_skill={min_skill:g} needs {need:.1%}): FID, KID and precision/recall in its features "
            "would measure nothing. The training labels may not match their images (shuffled or shifted?), or it "
            "trained too little (classifier.epochs)")


def save(model: ReferenceClassifier, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    spec = {"channels": model.body[0].in_channels, "num_classes": model.head.out_features,
            "feature_dim": model.num_features}
    path.with_suffix(".json").write_text(json.dumps(spec, sort_keys=True) + "\n")


def load(path: Path, device: str = "auto") -> ReferenceClassifier:
    spec = json.loads(Path(path).with_suffix(".json").read_text())
    model = ReferenceClassifier(spec["channels"], spec["num_classes"], spec["feature_dim"])
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.to(pick_device(device)).eval()


def features(model: ReferenceClassifier, images_uint8: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    """{"features", "logits"} of uint8 NHWC images: what metrics compare real and generated images on."""
    from components.evaluation import metrics

    dev = next(model.parameters()).device
    feats, logits = metrics.extract(lambda x: (model.features(x), model(x)), images_uint8, batch_size, dev)
    return {"features": feats, "logits": logits}


@dataclass(frozen=True)
class Space:
    """A trained reference classifier as a feature space: its name (by its weights), its weights file and the
    real test split's features and logits in it (what the classifier stage stores)."""

    name: str  # "classifier:<weights md5>"
    model: Path
    features: Path
    floor: dict[str, float]  # floor_* metrics at eval.num_samples: real training images against the test split

    def load(self, device) -> tuple[ReferenceClassifier, dict[str, torch.Tensor]]:
        """(classifier, real test features {"features", "logits"})."""
        return load(self.model, str(device)), torch.load(self.features, weights_only=True)
