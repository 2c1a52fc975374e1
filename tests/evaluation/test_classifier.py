import torch

from components.config.schema import Classifier
from components.data import store
from components.evaluation import classifier as ref


def test_reference_classifier_learns_real_digits(mnist5k_data, tmp_path):
    ds = store.read("mnist5k", mnist5k_data)
    x, y = torch.from_numpy(ds.arrays["train_images"]), torch.from_numpy(ds.arrays["train_labels"])
    model = ref.train_classifier(x, y, 10, Classifier(epochs=1, batch_size=64, lr=1e-3, feature_dim=32, min_steps=0), seed=0)
    acc = ref.accuracy(model, torch.from_numpy(ds.arrays["test_images"]), torch.from_numpy(ds.arrays["test_labels"]))
    assert acc > 0.8  # chance is 0.1; one epoch on 4,000 digits
    ref.save(model, tmp_path / "clf.pt")
    back = ref.load(tmp_path / "clf.pt", "cpu")
    probe = torch.rand(3, 1, 28, 28)
    assert torch.equal(back(probe), model(probe)) and back.features(probe).shape == (3, 32)
