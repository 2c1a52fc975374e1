"""The protocol digest covers every evaluation setting that changes a logged number, and nothing else."""

import dataclasses
import json

import pytest
import torch

from components.config.schema import Eval
from components.data import store
from components.data.tensors import Tensors
from components.evaluation import classifier as ref
from components.evaluation import protocol, scoring
from components.evaluation.classifier import Space
from tests.conftest import model_of

BASE = protocol.Protocol("classifier:abc", 5000, 1, "test split of mnist-0123 (all 1000 images)", "cpu",
                         json.dumps({"prc_k": 3}))


def test_the_protocol_digest_changes_with_each_field():
    changed = {"space": "classifier:abd", "num_samples": 500, "sample_seed": 2, "reference": "train split",
               "device": "cuda", "settings": json.dumps({"prc_k": 10}), "precision": "bf16"}
    assert set(changed) == {f.name for f in dataclasses.fields(protocol.Protocol)}
    digests = {dataclasses.replace(BASE, **{k: v}).digest for k, v in changed.items()}
    assert len(digests) == len(changed) and BASE.digest not in digests
    assert dataclasses.replace(BASE).digest == BASE.digest
    tags = BASE.tags()
    assert tags[protocol.TAG] == BASE.digest and tags["eval_protocol.num_samples"] == "5000"
    assert tags["eval_protocol.prc_k"] == "3" and tags["eval_protocol.device"] == "cpu"


# each eval field's other value; a field added to Eval without one here fails the test below
OTHER = {"num_samples": 90, "batch_size": 33, "prc_k": 4, "prdc_k": 4, "kid_subset_size": 40, "kid_subsets": 6,
         "floor_seeds": 2, "max_prdc_samples": 70, "inception": True, "inception_weights": "/elsewhere/w.pt",
         "inception_batch_size": 4, "grid_size": 9, "likelihood_images": 30, "iwae_k": 4,
         "mode_min_share": 0.5}
SLOW = {"inception", "inception_weights", "inception_batch_size"}  # Inception on CPU: digest only


@pytest.fixture(scope="module")
def scored_setup(mnist5k_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocol")
    ds = store.read("mnist5k", mnist5k_data)
    data = Tensors(train_x=torch.from_numpy(ds.arrays["train_images"]), train_y=torch.from_numpy(
        ds.arrays["train_labels"]), classes=ds.classes, test_x=torch.from_numpy(ds.arrays["test_images"][:300]),
        test_y=torch.from_numpy(ds.arrays["test_labels"][:300]))
    torch.manual_seed(0)
    clf = ref.ReferenceClassifier(1, 10, 16).eval()  # any fixed network is a feature space
    ref.save(clf, tmp / "clf.pt")
    torch.save(ref.features(clf, data.test_x, 100), tmp / "real.pt")
    space = Space("classifier:test", tmp / "clf.pt", tmp / "real.pt", {})
    torch.manual_seed(0)
    model = model_of("vae", (1, 28, 28), 10, {"z_dim": 4, "width": 0.125}).eval()  # samples + likelihoods
    return data, space, model, tmp


def _score(setup, settings: Eval, name: str):
    data, space, model, tmp = setup
    reference = scoring.Reference(data, (space,), settings, "fid_classifier", 0, tmp / "cache" / name, "mnist5k-x")
    out = tmp / "out" / name
    out.mkdir(parents=True)
    return scoring.score(model, reference, "cpu", out)


def test_every_eval_setting_that_changes_a_number_is_in_the_digest_and_no_other(scored_setup):
    base = Eval(num_samples=100, batch_size=50, kid_subset_size=50, kid_subsets=5, floor_seeds=1,
                max_prdc_samples=100, grid_size=16, likelihood_images=50, iwae_k=3)
    assert set(OTHER) == set(Eval.model_fields), "give the new eval field another value in OTHER"
    first = _score(scored_setup, base, "base")
    timing = "sample_seconds_per_image"  # a measured time, not a score
    again = _score(scored_setup, base, "again").metrics
    assert {k: v for k, v in again.items() if k != timing} == {k: v for k, v in first.metrics.items() if k != timing}
    for field, value in OTHER.items():
        settings = base.model_copy(update={field: value})
        if field in SLOW:  # measured only when Inception runs: in the digest exactly when it is on
            changed = protocol.make("fid_classifier", "classifier:test", 100, 1, "r", 300, settings, "cpu")
            same = protocol.make("fid_classifier", "classifier:test", 100, 1, "r", 300, base, "cpu")
            assert (changed.digest != same.digest) == (field not in protocol.NOT_IN_PROTOCOL and
                                                        (field == "inception" or base.inception)), field
            continue
        other = _score(scored_setup, settings, field)
        moved = {k for k in first.metrics.keys() ^ other.metrics.keys()} | {
            k for k in first.metrics.keys() & other.metrics.keys()
            if k != timing and other.metrics[k] != pytest.approx(first.metrics[k], rel=1e-6, abs=1e-9)}
        if field in protocol.NOT_IN_PROTOCOL:
            assert not moved, f"eval.{field} changes {sorted(moved)}: it belongs in the protocol digest"
            assert other.protocol.digest == first.protocol.digest, field
        else:
            assert other.protocol.digest != first.protocol.digest, f"eval.{field} is not in the protocol digest"
    assert set(protocol.NOT_IN_PROTOCOL) == {"inception_batch_size", "grid_size"}


def test_the_device_and_the_data_version_are_in_the_digest():
    settings = Eval()
    cpu = protocol.make("fid_classifier", "classifier:a", 100, 1, "test split of mnist-aaa", 1000, settings, "cpu")
    assert protocol.make("fid_classifier", "classifier:a", 100, 1, "test split of mnist-aaa", 1000, settings,
                         "cuda:1").digest != cpu.digest
    assert protocol.make("fid_classifier", "classifier:a", 100, 1, "test split of mnist-bbb", 1000, settings,
                         "cpu").digest != cpu.digest
    assert cpu.tags()["eval_protocol.device"] == "cpu"


def test_docs_list_every_metric_as_the_specs_declare_it():
    from pathlib import Path

    from components import metric_specs

    doc = (Path(__file__).resolve().parents[2] / "docs/evaluation.md").read_text()
    assert metric_specs.markdown_table() in doc, "run: python -m components.metric_specs, paste into docs/evaluation.md"
