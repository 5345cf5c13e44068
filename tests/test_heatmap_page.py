"""The samples page is a complete HTML document; rendered in headless Chromium where one is installed (#13)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import torch

from lit_coderl.samples import page_html, token_heatmap_html


def rows() -> list[dict]:
    text = "def f():\n    return '<ok>'"
    offsets = [(0, 3), (3, 6), (6, 9), (9, 24), (24, 26), (26, 26)]
    total = torch.tensor([0.5, 0.2, -0.1, 1.0, -1.0, 0.0])
    heatmap = token_heatmap_html(text, offsets, {"syntax": total * 0.5, "kl": total * 0.1}, total)
    row = {
        "iteration": 7,
        "task_id": "robot/42",
        "prompt": "Write f & return <ok>",
        "response": text,
        "scores": {"syntax": 0.75, "simulator": -0.25},
        "total_reward": 0.6,
        "heatmap": heatmap,
    }
    return [row, {**row, "task_id": "robot/43", "scores": {"syntax": 1.0, "simulator": 0.5}, "total_reward": 1.5}]


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def test_page_is_a_complete_document():
    page = page_html(rows(), 7)
    parser = Structure()
    parser.feed(page)
    text = "".join(parser.text)
    assert page.startswith("<!DOCTYPE html>")
    assert {"html", "head", "title", "body", "h1", "table", "pre", "span"} <= set(parser.tags)
    assert {"charset": "utf-8"} in parser.attrs
    assert "PPO iteration 7" in text  # title and heading carry the iteration
    assert "Write f & return <ok>" in text  # the prompt, escaped in the source, intact as text
    assert "def f():" in text and "return '<ok>'" in text  # the response
    assert "+0.7500" in text and "-0.2500" in text and "+0.6000" in text  # per-component scores and the total
    assert "+1.5000" in text  # the second sample's total
    assert "syntax" in text and "simulator" in text and "total reward" in text
    assert "negative" in text and "positive" in text  # the legend
    assert parser.tags.count("section") == 2 and "robot/43" in text


NO_CHROMIUM = "Debian's chromium is not installed: apt install chromium"


@pytest.mark.skipif(shutil.which("chromium") is None, reason=NO_CHROMIUM)
def test_page_renders_in_headless_chromium(tmp_path):
    path = tmp_path / "iter-7.html"
    path.write_text(page_html(rows(), 7), encoding="utf-8")
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # the browser parsed the whole page: the rendered DOM holds every section, the legend and the scores
    assert dom.count('class="sample"') == 2 and "PPO iteration 7" in dom
    assert "legend" in dom and "+0.6000" in dom and "&lt;ok&gt;" in dom and "robot/43" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 1000
