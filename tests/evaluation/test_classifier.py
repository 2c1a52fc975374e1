import pytest
import torch

from components.config.schema import Classifier
from components.data import store
from components.errors import DataError
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


@pytest.mark.parametrize("mislabel", ["shuffled", "shifted"])
def test_a_classifier_trained_on_mislabelled_digits_is_refused_as_a_judge(mnist5k_data, mislabel):
    ds = store.read("mnist5k", mnist5k_data)
    x, y = torch.from_numpy(ds.arrays["train_images"]), torch.from_numpy(ds.arrays["train_labels"]).long()
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))] if mislabel == "shuffled" \
        else (y + 1) % 10
    cfg = Classifier(epochs=1, feature_dim=32, min_steps=0)
    model = ref.train_classifier(x, y, 10, cfg, seed=0)
    acc = ref.accuracy(model, torch.from_numpy(ds.arrays["test_images"]), torch.from_numpy(ds.arrays["test_labels"]))
    with pytest.raises(DataError) as err:
        ref.refuse_unskilled(acc, 10, cfg.min_skill, "mine")
    assert str(err.value).startswith(f"mine's reference classifier reached {acc:.1%} test accuracy (chance 10.0%; "
                                     "classifier.min_skill=0.25 needs 32.5%): FID, KID and precision/recall")


def test_the_skill_floor_is_relative_to_chance():
    ref.refuse_unskilled(0.33, 10, 0.25, "digits")  # 32.5% needed of ten classes
    ref.refuse_unskilled(0.63, 2, 0.25, "pairs")  # 62.5% of two
    with pytest.raises(DataError, match=r"reached 62.0% test accuracy \(chance 50.0%; classifier.min_skill=0.25 "
                                        r"needs 62.5%\)"):
        ref.refuse_unskilled(0.62, 2, 0.25, "pairs")
    ref.refuse_unskilled(0.0, 10, 0.0, "digits")  # 0 turns the floor off
