"""``embrec recommend | similar | interpret``: tables for people, one JSON line for programs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embrec.cli import main
from embrec.cli.recommend import parse_rating
from embrec.data.datasets import load_dataset
from embrec.errors import ConfigError
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def bundle(data_dir, tmp_path_factory) -> Path:
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    path = tmp_path_factory.mktemp("cli") / "mf-bias"
    fit(ratings, "mf-bias", epochs=2).save(path)
    return path


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_recommend_for_a_known_user_prints_a_table_and_json(bundle, capsys):
    assert main(["recommend", str(bundle), "--user", "1", "-n", "5", "--json"]) == 0
    out = capsys.readouterr().out
    assert "Top 5 for user 1 (known user, mf-bias; ordered by predicted rating)" in out
    payload = last_json(out)
    assert payload["user_id"] == 1 and payload["strategy"] == "known user"
    assert payload["scorer"] == "predicted rating"
    assert len(payload["items"]) == 5
    for item in payload["items"]:
        assert {"item_id", "title", "score"} <= item.keys()
        assert isinstance(item["item_id"], int) and 1 <= item["score"] <= 5


def test_recommend_for_new_ratings_folds_them_in(bundle, capsys):
    argv = ["recommend", str(bundle), "--rate", "Star Wars (1977)=5", "--rate",
            "titanic=2", "-r", "the usual suspects=4.5", "-n", "7", "--json"]
    assert main(argv) == 0
    payload = last_json(capsys.readouterr().out)
    assert payload["strategy"].startswith("fold-in")
    assert len(payload["items"]) == 7
    assert not {50, 313, 12} & {item["item_id"] for item in payload["items"]}
    assert all("because" in item for item in payload["items"])


def test_rate_splits_on_the_last_equals_sign():
    assert parse_rating("a=b (1999)=4") == ("a=b (1999)", 4.0)
    with pytest.raises(ConfigError, match="expected ITEM=RATING"):
        parse_rating("Star Wars")
    with pytest.raises(ConfigError, match="'five' is not a number"):
        parse_rating("Star Wars=five")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user", "99999"], "user 99999 is not in this model (943 users, ids 1..943)"),
        (["--rate", "Star Warz=5"], "no item titled 'Star Warz' in this model; closest: Star Wars"),
        (["--rate", "Star Wars=9"], "outside this model's rating scale 1..5"),
        (["--rate", "cape fear=3"], "title 'cape fear' is ambiguous"),
        ([], "give either --user ID"),
        (["--user", "1", "--rate", "Star Wars=5"], "give either --user ID"),
    ],
)
def test_recommend_mistakes_exit_2_with_one_line(bundle, capsys, argv, message):
    assert main(["recommend", str(bundle), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("embrec: error: ") and message in err
    assert err.count("\n") == 1


def test_a_missing_bundle_exits_2(tmp_path, capsys):
    assert main(["recommend", str(tmp_path / "nothing"), "--user", "1"]) == 2
    assert "not a model bundle" in capsys.readouterr().err


def test_similar_accepts_an_id_or_a_title(bundle, capsys):
    assert main(["similar", str(bundle), "50", "-n", "4", "--json"]) == 0
    by_id = last_json(capsys.readouterr().out)
    assert main(["similar", str(bundle), "star wars", "-n", "4", "--json"]) == 0
    out = capsys.readouterr().out
    assert "Items like Star Wars (1977) [id 50]" in out
    by_title = last_json(out)
    assert by_id == by_title and by_id["item_id"] == 50
    assert len(by_id["items"]) == 4 and 50 not in [i["item_id"] for i in by_id["items"]]
    assert main(["similar", str(bundle), "99999"]) == 2
    assert "item 99999 is not in this model" in capsys.readouterr().err


def test_similar_chooses_its_item_space(bundle, capsys):
    # This bundle has no ranking model: auto is the rating model's cosine, ranking is refused.
    assert main(["similar", str(bundle), "50", "-n", "3", "--json"]) == 0
    auto = last_json(capsys.readouterr().out)
    assert main(["similar", str(bundle), "50", "-n", "3", "--space", "rating", "--json"]) == 0
    assert last_json(capsys.readouterr().out) == auto
    assert main(["similar", str(bundle), "50", "--space", "ranking"]) == 2
    assert "no ranking model" in capsys.readouterr().err
    assert main(["similar", str(bundle), "50", "--space", "nearest"]) == 2
    assert "space must be auto, ranking or rating" in capsys.readouterr().err


def test_interpret_prints_biases_and_axes_and_saves_the_plot(bundle, tmp_path, capsys):
    plot = tmp_path / "items.png"
    argv = ["interpret", str(bundle), "--plot", str(plot), "-n", "3", "--labels", "10", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Lowest item biases" in out and "Highest item biases" in out and "PC1" in out
    payload = last_json(out)
    assert len(payload["biases"]["lowest"]) == 3
    assert payload["pca"]["plot"] == str(plot)
    assert plot.read_bytes()[:4] == b"\x89PNG"
