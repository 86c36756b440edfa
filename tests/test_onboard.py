"""``embrec onboard``: questions in a real terminal (a pseudo-terminal), then recommendations."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from embrec.bundle import load
from embrec.data.datasets import load_dataset
from embrec.recommend import onboarding_items
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata

QUESTION = re.compile(rb"\[(\d+)/(\d+)\] [^\n]*: $")


@pytest.fixture(scope="module")
def bundle(data_dir, tmp_path_factory) -> Path:
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    path = tmp_path_factory.mktemp("onboard") / "mf-bias"
    fit(ratings, "mf-bias", epochs=2).save(path)
    return path


def converse(argv: list[str], answers: list[str], timeout: float = 120.0) -> tuple[str, int]:
    """Run ``argv`` on a pseudo-terminal, typing the next answer at each question prompt."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "xterm"}
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True)
    os.close(slave)
    output, asked, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            prompts = len(re.findall(rb"\[\d+/\d+\] [^\n]*: ", output))
            if prompts > asked and QUESTION.search(output) and pending:
                asked = prompts
                os.write(master, pending.pop(0).encode() + b"\r")
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode("utf-8", "replace"))
    return text.replace("\r\n", "\n"), process.returncode


def test_onboarding_asks_in_the_terminal_and_then_recommends(bundle):
    questions = onboarding_items(load(bundle), k=6)
    answers = ["5", "", "maybe", "s", "1", "q"]
    text, code = converse(
        [sys.executable, "-m", "embrec", "onboard", str(bundle), "-k", "6", "-n", "5", "--json"],
        answers,
    )
    assert code == 0, text
    assert "Rate these 6 items from 1 to 5" in text
    assert f"[1/6] {questions.titles[0]}" in text
    assert "type a rating from 1 to 5" in text, "an answer that is not a rating is asked again"
    assert "[6/6]" not in text, "q finishes early"
    assert "Top 5 from your 2 ratings (fold-in" in text
    payload = json.loads(text.strip().splitlines()[-1])
    assert len(payload["items"]) == 5
    rated = {questions.item_ids[0], questions.item_ids[3]}
    assert not rated & {item["item_id"] for item in payload["items"]}
    for item in payload["items"]:
        assert item["title"][:20] in text


def test_skipping_every_question_gives_the_cold_start_answer(bundle):
    text, code = converse(
        [sys.executable, "-m", "embrec", "onboard", str(bundle), "-k", "3", "-n", "4", "--json"],
        ["", "s", ""],
    )
    assert code == 0, text
    payload = json.loads(text.strip().splitlines()[-1])
    assert payload["strategy"] == "cold-start: average user + popularity"
    assert len(payload["items"]) == 4
