"""How a number was measured. Two FIDs are comparable only when everything here is equal: the feature space
(which reference classifier, by its weights, or which Inception weights and resize), how many samples, from
which seed, against which reference images, and the arithmetic's precision. FID is biased by N, so N is part of
it; the champion rule compares only numbers with the same protocol digest (tracking/promotion.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

TAG = "genzoo.eval_protocol"
INCEPTION_RESIZE = "tf1-legacy-bilinear"
PRECISION = "fp32, tf32 off"


@dataclass(frozen=True)
class Protocol:
    space: str  # "classifier:<weights md5>" or "inception:<weights md5>:<resize>"
    num_samples: int  # generated images
    sample_seed: int
    reference: str  # "test split (all N images)": every metric compares against the whole test split
    kid_subset_size: int
    precision: str = PRECISION

    @property
    def digest(self) -> str:
        return hashlib.md5(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def tags(self) -> dict[str, str]:
        """The digest and every field, as MLflow tags (`eval_protocol.<field>`): tags, not params, because a
        cached training run evaluated again under another protocol must be able to say so."""
        return {TAG: self.digest, **{f"eval_protocol.{k}": str(v) for k, v in asdict(self).items()}}

    def describe(self) -> str:
        return f"{self.digest} ({self.space}, {self.num_samples} samples, seed {self.sample_seed})"


def weights_id(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()[:12]


def space_of(metric: str, classifier_space: str, settings) -> str:
    """The feature space a metric named `<name>_<space>` (fid_classifier, kid_inception) is measured in."""
    if not metric.endswith("_inception"):
        return classifier_space
    from components.evaluation.inception import default_weights

    weights = Path(settings.inception_weights).expanduser() if settings.inception_weights else default_weights()
    return f"inception:{weights_id(weights)}:{INCEPTION_RESIZE}"


def make(metric: str, classifier_space: str, num_samples: int, sample_seed: int, reference: str,
         n_reference: int, settings) -> Protocol:
    return Protocol(space_of(metric, classifier_space, settings), int(num_samples), int(sample_seed), reference,
                    min(settings.kid_subset_size, int(num_samples), int(n_reference)))
