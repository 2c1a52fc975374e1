import dataclasses

import torch

from components.config.schema import Eval
from components.data import store
from components.evaluation import classifier as ref
from components.evaluation import protocol, samples

BASE = protocol.Protocol("classifier:abc", 5000, 1, "test split", 1000)


def test_the_protocol_digest_changes_with_each_field():
    changed = {"space": "classifier:abd", "num_samples": 500, "sample_seed": 2, "reference": "train split",
               "kid_subset_size": 500, "precision": "bf16"}
    assert set(changed) == {f.name for f in dataclasses.fields(protocol.Protocol)}
    digests = {dataclasses.replace(BASE, **{k: v}).digest for k, v in changed.items()}
    assert len(digests) == len(changed) and BASE.digest not in digests
    assert protocol.Protocol("classifier:abc", 5000, 1, "test split", 1000).digest == BASE.digest
    tags = BASE.tags()
    assert tags[protocol.TAG] == BASE.digest and tags["eval_protocol.num_samples"] == "5000"


def test_a_floor_is_measured_at_the_n_beside_it(mnist5k_data, tmp_path):
    ds = store.read("mnist5k", mnist5k_data)
    x = torch.from_numpy(ds.arrays["train_images"])
    clf = ref.ReferenceClassifier(1, 10, 16).eval()  # any fixed network is a feature space
    real = ref.features(clf, torch.from_numpy(ds.arrays["test_images"]), 500)
    result = {"feature_space": "classifier:test"}
    settings = Eval(kid_subset_size=100, kid_subsets=10)
    small = samples.floor_at(50, result, clf, real, x, settings, 0, tmp_path)
    large = samples.floor_at(1000, result, clf, real, x, settings, 0, tmp_path)
    assert small["floor_fid_classifier"] > large["floor_fid_classifier"]  # FID's bias at small N
    assert sorted(p.name.split("-")[2] for p in tmp_path.iterdir()) == ["n1000", "n50"]
    assert samples.floor_at(50, result, clf, real, x, settings, 0, tmp_path) == small  # cached per N
