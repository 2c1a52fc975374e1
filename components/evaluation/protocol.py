"""How a number was measured. Two numbers are comparable only when everything here is equal: the feature space
(which reference classifier, by its weights, or which Inception weights and resize), how many samples, from
which seed and on which device type (CPU and CUDA draw other noise from one seed), against which reference
images of which data version, every evaluation setting a metric reads, and the arithmetic's precision. FID is
biased by N, so N is part of it; the champion rule compares only numbers with the same protocol digest
(tracking/promotion.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

TAG = "genzoo.eval_protocol"
INCEPTION_RESIZE = "tf1-legacy-bilinear"
PRECISION = "fp32, tf32 off"
# eval settings that change no logged number, the only ones left out of the digest. tests/evaluation/
# test_protocol.py measures every other setting's effect; it found that eval.batch_size does change numbers
# (samples and likelihood bounds are drawn batch by batch from one generator), so batch_size is in the digest.
NOT_IN_PROTOCOL = {
    "inception_batch_size": "images per Inception forward pass: the network is in eval mode, no layer mixes "
                            "images (not re-measured by the tests: Inception is too slow on CPU)",
    "grid_size": "how many samples the sample grid picture shows",
}


@dataclass(frozen=True)
class Protocol:
    space: str  # "classifier:<weights md5>" or "inception:<weights md5>:<resize>"
    num_samples: int  # generated images
    sample_seed: int
    reference: str  # which images of which data version every metric compares against
    device: str  # "cpu" | "cuda" | "mps": the device type samples were drawn on
    settings: str  # every eval setting a metric reads, as sorted JSON
    precision: str = PRECISION

    @property
    def digest(self) -> str:
        return hashlib.md5(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def tags(self) -> dict[str, str]:
        """The digest and every field, as MLflow tags (`eval_protocol.<field>`, each setting its own): tags, not
        params, because a cached training run evaluated again under another protocol must be able to say so."""
        fields = {k: str(v) for k, v in asdict(self).items() if k != "settings"}
        fields.update({k: json.dumps(v) if not isinstance(v, str) else v for k, v in json.loads(self.settings).items()})
        return {TAG: self.digest, **{f"eval_protocol.{k}": v for k, v in fields.items()}}

    def describe(self) -> str:
        return f"{self.digest} ({self.space}, {self.num_samples} samples, seed {self.sample_seed}, {self.device})"


def weights_id(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()[:12]


def inception_space(settings) -> str:
    from components.evaluation.inception import default_weights

    weights = Path(settings.inception_weights).expanduser() if settings.inception_weights else default_weights()
    return f"inception:{weights_id(weights)}:{INCEPTION_RESIZE}"


def space_of(metric: str, classifier_space: str, settings) -> str:
    """The feature space a metric named `<name>_<space>` (fid_classifier, kid_x1e3_inception) is measured in."""
    from components.metric_specs import spec

    return inception_space(settings) if spec(metric).space == "inception" else classifier_space


def protocol_settings(settings, num_samples: int, n_reference: int) -> dict:
    """Every eval setting a logged metric reads, as it acts: KID's subset size as used (capped by both set sizes),
    the Inception weights by their content (and only when Inception metrics are measured)."""
    out = {k: v for k, v in settings.model_dump().items() if k not in NOT_IN_PROTOCOL}
    out["kid_subset_size"] = min(settings.kid_subset_size, int(num_samples), int(n_reference))
    out["inception_weights"] = inception_space(settings) if settings.inception else None
    return out


def make(metric: str, classifier_space: str, num_samples: int, sample_seed: int, reference: str,
         n_reference: int, settings, device) -> Protocol:
    import torch

    return Protocol(space_of(metric, classifier_space, settings), int(num_samples), int(sample_seed), reference,
                    torch.device(device).type,
                    json.dumps(protocol_settings(settings, num_samples, n_reference), sort_keys=True))


@dataclass(frozen=True)
class Noise:
    """registry.metric of an untrained model of a family under a protocol (scoring.noise_level): the level a
    champion must clearly beat (tracking/promotion.py). `protocol`: the digest it was measured under, which must
    be the version's."""

    family: str
    value: float
    protocol: str
