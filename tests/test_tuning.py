"""``fit(..., tune=BUDGET)`` and ``embrec train --tune``: a search on a carve-out of train only."""

from __future__ import annotations

import dataclasses
import json

import pytest

from embrec.bundle import TrainedModel
from embrec.cli import main
from embrec.cli.optional_values import with_implied_values
from embrec.errors import ConfigError
from embrec.training.fit import fit
from embrec.tuning.budget import DEFAULT_BUDGET, Budget, parse_budget
from embrec.tuning.search import schedule_percent, search_hyperparameters
from embrec.tuning.space import search_space


def test_budgets_read_as_trials_or_seconds():
    assert parse_budget("30") == Budget(trials=30)
    assert parse_budget(12) == Budget(trials=12)
    assert parse_budget("60s") == Budget(seconds=60.0)
    assert parse_budget("5m") == Budget(seconds=300.0)
    assert parse_budget(None) == DEFAULT_BUDGET == parse_budget("default")
    for bad in ("1x", "0", "2.5", "-3", "s"):
        with pytest.raises(ConfigError, match="tune budget"):
            parse_budget(bad)


def test_a_bare_tune_option_gets_the_default_budget():
    assert with_implied_values(["train", "--tune"]) == ["train", "--tune", "default"]
    assert with_implied_values(["train", "--tune", "--seed", "1"]) == [
        "train", "--tune", "default", "--seed", "1"]
    assert with_implied_values(["train", "--tune", "5m"]) == ["train", "--tune", "5m"]


def test_trials_of_different_lengths_report_at_the_same_shares_of_their_schedule():
    assert [schedule_percent(e, 5) for e in range(1, 6)] == [20, 40, 60, 80, 100]
    assert [schedule_percent(e, 25) for e in range(1, 26)].count(None) == 15
    assert [s for e in range(1, 38) if (s := schedule_percent(e, 37))] == list(range(10, 101, 10))


def test_given_hyperparameters_are_not_searched():
    names = [d.name for d in search_space("mf-bias", "sgd", fixed={"epochs": 5, "seed": 0})]
    assert "epochs" not in names and "factors" in names and "emb_l2" in names
    assert "weight_decay" in [d.name for d in search_space("mf-bias", "torch")]
    with pytest.raises(ConfigError, match="glocal-k' has no search space; --tune works with "
                                          "autorec, baseline"):
        search_space("glocal-k", "glocal")
    with pytest.raises(ConfigError, match="unknown model 'nonesuch'"):
        search_space("nonesuch", "torch")
    with pytest.raises(ConfigError, match="drop --tune"):
        search_space("baseline", "als", fixed={"reg_user": 1.0, "reg_item": 2.0})


def _pairs(ratings) -> set[tuple[int, int]]:
    users = ratings.user_ids.raw_ids[ratings.users]
    items = ratings.item_ids.raw_ids[ratings.items]
    return set(zip(users.tolist(), items.tolist(), strict=True))


def test_every_trial_fits_and_scores_on_the_training_part_only(u1):
    seen = []

    def spy_fit(train, model, *, test, **kwargs):
        seen.append((train, test))
        return fit(train, model, test=test, **kwargs)

    search = search_hyperparameters(spy_fit, u1.train, "baseline", "als", {},
                                    {"reg_user": 15.0, "reg_item": 10.0}, 4)
    train_pairs, test_pairs = _pairs(u1.train), _pairs(u1.test)
    assert len(seen) == 4 and len(test_pairs) == 20_000
    for fit_part, carve in seen:
        fitted, scored = _pairs(fit_part), _pairs(carve)
        assert fitted | scored <= train_pairs
        assert not (fitted | scored) & test_pairs
        assert not fitted & scored
        assert len(scored) == 8_000 and len(fitted) == 72_000
    assert search.n_carve == 8_000 and search.n_fit == 72_000


def _without_seconds(record: dict) -> dict:
    record = {k: v for k, v in record.items() if k != "seconds"}
    record["trials"] = [{k: v for k, v in t.items() if k != "seconds"} for t in record["trials"]]
    return record


def test_a_poisoned_test_part_changes_nothing_in_the_search(u1):
    poisoned = dataclasses.replace(u1.test, values=6.0 - u1.test.values)
    clean = fit(u1.train, "baseline", test=u1.test, tune=6, verbose=False)
    dirty = fit(u1.train, "baseline", test=poisoned, tune=6, verbose=False)
    assert dirty.metrics["test_rmse"] > clean.metrics["test_rmse"] + 0.5
    assert (_without_seconds(clean.provenance["tuning"])
            == _without_seconds(dirty.provenance["tuning"]))


def test_tuning_records_the_search_and_the_defaults_are_the_first_trial(u1, tmp_path):
    tuned = fit(u1.train, "baseline", test=u1.test, tune=8, verbose=False)
    record = tuned.provenance["tuning"]
    assert record["n_trials"] == 8 and len(record["trials"]) == 8
    assert record["trials"][0]["values"] == {"reg_user": 15.0, "reg_item": 10.0}
    assert record["chosen_carve_rmse"] <= record["default_carve_rmse"]
    assert record["carve_out"] == {"fraction": 0.1, "seed": 0, "n_fit": 72_000, "n_carve": 8_000}
    assert tuned.model_config.reg_user == pytest.approx(record["chosen"]["reg_user"])
    assert len(tuned.train) == 80_000  # refitted on all of the training part
    tuned.save(tmp_path / "m")
    assert TrainedModel.load(tmp_path / "m").provenance["tuning"] == json.loads(
        json.dumps(record))


def test_the_same_seed_gives_the_same_search(u1):
    first = fit(u1.train, "baseline", tune=5, verbose=False, seed=3).provenance["tuning"]
    again = fit(u1.train, "baseline", tune=5, verbose=False, seed=3).provenance["tuning"]
    assert _without_seconds(first) == _without_seconds(again)
    assert first["carve_out"]["seed"] == 3


@pytest.mark.slow
def test_bad_trials_of_an_epoch_solver_are_pruned(u1):
    tuned = fit(u1.train, "mf-bias", test=u1.test, tune=9, verbose=False, factors=32)
    record = tuned.provenance["tuning"]
    assert record["n_pruned"] >= 1
    assert all(t["values"].keys() == {"lr", "emb_l2", "epochs"} for t in record["trials"])


def test_train_tune_prints_and_reports_the_search(data_dir, tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--model", "baseline", "--ranker", "none", "--out", str(tmp_path / "m"),
                 "--tune", "4", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    assert "tuned baseline in 4 trials" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["tuning"]["n_trials"] == 4
    assert summary["tuning"]["carve_out"]["n_carve"] == 8_000


def test_train_refuses_a_bad_budget_before_reading_data(tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--out", str(tmp_path / "m"), "--tune", "ten"])
    assert code == 2
    assert "tune budget 'ten'" in capsys.readouterr().err
