"""Model bundles: save and load without pickle, atomically; predict for raw ids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embrec.bundle import FORMAT_VERSION, load
from embrec.errors import BundleError
from embrec.training.fit import fit


@pytest.fixture(scope="module")
def trained(u1):
    return fit(u1.train, "mf-bias", test=u1.test, epochs=2, solver="torch")


@pytest.mark.parametrize(
    ("model", "options"),
    [("mf-bias", {"epochs": 1}), ("embnet", {"epochs": 1}), ("autorec", {"epochs": 1}),
     ("deep-ae", {"epochs": 1}), ("baseline", {}), ("mf", {"epochs": 1})],
)
def test_every_model_round_trips_through_a_bundle(u1, tmp_path, model, options):
    original = fit(u1.train, model, **options)
    original.save(tmp_path / "bundle")
    loaded = load(tmp_path / "bundle")
    users = u1.test.user_ids.to_raw(u1.test.users[:500])
    items = u1.test.item_ids.to_raw(u1.test.items[:500])
    np.testing.assert_array_equal(
        original.predict(users, items).ratings, loaded.predict(users, items).ratings
    )
    assert loaded.name == model


def test_bundle_records_config_data_split_and_titles(trained, tmp_path):
    trained.save(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == {"name": "mf-bias", "config": {"factors": 50, "y_range": "auto"}}
    assert manifest["train_config"]["epochs"] == 2
    assert manifest["data"]["fingerprint"] == trained.provenance["fingerprint"]
    assert manifest["data"]["seed"] == 0
    assert "Star Wars (1977)" in manifest["item_info"]["title"]
    assert not list(tmp_path.glob(".b.*")), "no temporary folder is left behind"


def test_predictions_are_clipped_and_unknown_ids_fall_back_to_the_baseline(trained):
    prediction = trained.predict([1, 1, 99999, 1], [50, 99999, 50, 1])
    assert prediction.source == [
        "model", "baseline: unknown item", "baseline: unknown user", "model",
    ]
    assert np.all((prediction.ratings >= 1) & (prediction.ratings <= 5))
    assert prediction.ratings[2] == pytest.approx(
        trained.fallback.global_mean + trained.fallback.item_bias[trained.item_ids.index_of(50)]
    )


def test_a_truncated_weights_file_gives_a_clear_error(trained, tmp_path):
    trained.save(tmp_path / "b")
    weights = tmp_path / "b" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(BundleError, match="does not match the SHA-256 recorded"):
        load(tmp_path / "b")


def test_a_bundle_from_a_newer_format_is_refused(trained, tmp_path):
    trained.save(tmp_path / "b")
    manifest_path = tmp_path / "b" / "bundle.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="newer than this embrec"):
        load(tmp_path / "b")


def test_a_folder_without_a_bundle_is_named_in_the_error(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle"):
        load(tmp_path)


def test_saving_over_a_bundle_replaces_it_whole(trained, u1, tmp_path):
    trained.save(tmp_path / "b")
    other = fit(u1.train, "baseline")
    other.save(tmp_path / "b")
    assert load(tmp_path / "b").name == "baseline"
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "bundle.json", "train.safetensors", "weights.safetensors",
    ]
