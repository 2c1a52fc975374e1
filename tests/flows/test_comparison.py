"""comparison.html: the families of one invocation side by side, offline, at one scale."""

import re

import numpy as np
from PIL import Image

from components.pipeline.results import Evaluated
from components.tracking.registration import Registration
from flows.comparison import parent_metrics, render
from flows.summary import FamilyRun, RunSummary


def _evaluated(tmp_path, family: str, size: int, fid: float) -> Evaluated:
    path = tmp_path / f"{family}.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    metrics = {"fid_classifier": fid, "floor_fid_classifier": 1.5, "num_samples": 500.0,
               "precision_classifier": 0.5, "test_nll_nats": 80.0}
    return Evaluated(metrics=metrics, feature_space="classifier", protocol="p", protocol_fields={}, samples=str(path),
                     model_dir=str(tmp_path), run_id="r", files=())


def _registration(family: str, noise: float) -> Registration:
    return Registration(name=f"d-{family}", version="1", alias="champion", reason="first version", protocol="p",
                        run_id="r", model_uri="m", metric="fid_classifier", noise=noise)


def test_page_shows_both_families_grids_at_one_scale_and_the_floor_and_noise_once(tmp_path):
    summary = RunSummary("d", "quick", str(tmp_path), {})
    summary.families = {"nsgan": FamilyRun("d", evaluate=_evaluated(tmp_path, "nsgan", 242, 30.0),
                                           register=_registration("nsgan", 900.0)),
                        "vae": FamilyRun("d", evaluate=_evaluated(tmp_path, "vae", 122, 40.0),
                                         register=_registration("vae", 800.0))}
    page = render(summary)
    images = re.findall(r'<img alt="(\w+) samples" width="(\d+)" height="(\d+)" src="data:image/png;base64,', page)
    assert images == [("nsgan", "484", "484"), ("vae", "244", "244")]  # both at 2x: pixels of one size
    assert "://" not in page and "<script" not in page  # self-contained: no link out (base64 has no ":")
    assert page.count("floor: real d images") == 1 and page.count("untrained (champion rule)") == 1
    rows = re.findall(r"<tr><th>([^<]+)</th><td>", page)
    assert [r.split()[0] for r in rows] == ["fid_classifier", "precision_classifier", "test_nll_nats"]
    assert "nsgan 900; vae 800" in page and "(N=500)" in page


def test_parent_metrics_are_each_familys_own_and_its_untrained_level(tmp_path):
    summary = RunSummary("d", "quick", str(tmp_path), {})
    summary.families = {"nsgan": FamilyRun("d", evaluate=_evaluated(tmp_path, "nsgan", 10, 30.0),
                                           register=_registration("nsgan", 900.0))}
    assert parent_metrics(summary) == {"nsgan/fid_classifier": 30.0, "nsgan/precision_classifier": 0.5,
                                       "nsgan/test_nll_nats": 80.0, "nsgan/untrained_fid_classifier": 900.0}


def test_the_end_of_run_table_reads_top_down_with_floors_and_noise_as_columns_once(tmp_path):
    from flows.summary import metrics_table

    summary = RunSummary("d", "quick", str(tmp_path), {})
    ev = _evaluated(tmp_path, "vae", 10, 40.0)
    ev.metrics.update({"kid_x1e3_classifier": 2.0, "test_elbo_nats": -90.0, "sample_seconds_per_image": 0.01,
                       "floor_kid_x1e3_classifier": 0.1, "recall_classifier": 0.4})
    summary.families = {"nsgan": FamilyRun("d", evaluate=_evaluated(tmp_path, "nsgan", 10, 30.0),
                                           register=_registration("nsgan", 900.0)),
                        "vae": FamilyRun("d", evaluate=ev, register=_registration("vae", 800.0))}
    lines = metrics_table(summary).splitlines()
    assert lines[0] == "| metric | nsgan (d) | vae (d) | floor: real d images | untrained (champion rule) |"
    rows = [line.split(" | ")[0].removeprefix("| ") for line in lines[2:]]
    # FID, KID, precision, recall, then likelihoods, then timing; no floor_* row among them
    assert rows == ["fid_classifier ↓", "kid_x1e3_classifier ↓ [x10^3]", "precision_classifier ↑",
                    "recall_classifier ↑", "test_nll_nats ↓ [nats/image]",
                    "test_elbo_nats ↑ [nats/image] (ELBO ≤ log p(x))", "sample_seconds_per_image ↓ [s/image]"]


def test_a_floor_measured_on_fewer_images_than_the_samples_shows_its_own_n(tmp_path):
    from flows.summary import table

    summary = RunSummary("d", "quick", str(tmp_path), {})
    ev = _evaluated(tmp_path, "nsgan", 10, 30.0)
    ev.metrics.update({"num_samples": 5000.0, "floor_num_samples": 4000.0})  # mnist5k: 4,000 training images
    summary.families = {"nsgan": FamilyRun("d", evaluate=ev, register=_registration("nsgan", 900.0))}
    fid_row = dict(table(summary).rows)["fid_classifier ↓"]
    assert fid_row[:2] == ["30 (N=5,000)", "1.5 (N=4,000)"]
