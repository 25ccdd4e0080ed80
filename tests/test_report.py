"""sknas.report: one self-contained HTML file, read as a person meets it (a real parser, a real browser)."""

import base64
import copy
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402  (matplotlib depends on pillow)

import sknas  # noqa: E402
from sknas import AutoNASClassifier  # noqa: E402
from sknas.__main__ import main  # noqa: E402
from sknas.report import SECTIONS, render_report  # noqa: E402


class Page(HTMLParser):
    """Sections, headings, images, links and table rows of an HTML page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sections, self.images, self.links, self.stack, self.h2 = [], [], [], [], []
        self.rows = {}  # section id -> number of <tr> in it
        self.text = {}  # section id -> its text
        self._in_h2 = False
        self.feed(text)
        self.close()

    @property
    def section(self):
        return self.stack[-1] if self.stack else None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
            self.stack.append(attrs.get("id"))
        elif tag == "img":
            self.images.append((self.section, attrs.get("src", ""), attrs.get("alt")))
        elif tag == "a":
            self.links.append(attrs.get("href"))
        elif tag == "tr" and self.section:
            self.rows[self.section] = self.rows.get(self.section, 0) + 1
        elif tag == "h2":
            self._in_h2 = True

    def handle_endtag(self, tag):
        if tag == "section":
            self.stack.pop()
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self.section:
            self.text[self.section] = self.text.get(self.section, "") + data
        if self._in_h2:
            self.h2.append(data)


def mixed_frame(n=240, seed=0):
    """Numbers, a string category with missing values, a date column and a constant column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = pd.DataFrame({
        "signal": rng.normal(size=n) + 1.5 * y,
        "noise": rng.normal(size=n),
        "color": rng.choice(["red", "green", "blue"], size=n).astype(object),
        "when": pd.date_range("2021-01-01", periods=n, freq="D").astype(str),
        "constant": 1.0,
    })
    X.loc[::9, "color"] = None
    return X, np.where(y == 1, "yes", "no")


@pytest.fixture(scope="module")
def fitted():
    X, y = mixed_frame()
    # max_trials ends the search in a few seconds; the budget only guards it (a loaded machine
    # must not time the first trial out)
    return AutoNASClassifier(time_budget=30.0, max_trials=4, max_epochs=3, search="random",
                             objectives=("score", "params"), random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def page(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert sknas.report(fitted, path) == str(path)
    return Page(path.read_text(encoding="utf-8"))


def _decode(src):
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]  # embedded: nothing to fetch
    image = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
    image.load()  # decodes every pixel: a truncated PNG raises here
    return image


def test_every_section_is_there_and_the_page_is_self_contained(page):
    assert page.sections == list(SECTIONS)
    assert page.links == [f"#{s}" for s in SECTIONS]  # the navigation, and no outside link
    assert all(title.strip() for title in page.h2)


def test_every_embedded_image_decodes(page):
    where = [section for section, _, _ in page.images]
    # history, genotype, 2 learning-curve plots (best trials, final network), 1 Pareto plot (params)
    assert where == ["history", "genotype", "learning-curves", "learning-curves", "pareto"]
    for section, src, alt in page.images:
        image = _decode(src)
        assert alt and image.width >= 400 and image.height >= 200, (section, image.size)
        pixels = np.asarray(image.convert("L"))
        assert pixels.std() > 5, section  # something is drawn


def test_sections_tell_the_search(fitted, page):
    res = fitted.search_results_
    n_ok = res["status"].count("ok")
    assert page.rows["leaderboard"] == 1 + min(10, n_ok) + (1 if n_ok < len(res["status"]) else 0) * (
        1 + len(res["status"]) - n_ok)
    assert str(fitted.best_genotype_) in page.text["genotype"]
    assert f"{fitted.best_score_:.4f}" in page.text["summary"]
    for part in ("search", "refit", "total"):
        assert part in page.text["time"]
    data = page.text["data"]
    assert "240" in data  # rows
    assert re.search(r"categorical columns\s*1: color", data)
    assert re.search(r"datetime columns\s*1: when", data)
    assert re.search(r"numeric columns\s*2: signal, noise", data)
    assert re.search(r"constant\s*constant", data)  # the removed column and its reason
    assert page.rows["pareto"] == 1 + len(fitted.pareto_front_)


def test_a_single_objective_search_has_no_pareto_section(fitted):
    single = copy.deepcopy(fitted).set_params(objectives=("score",))
    page = Page(render_report(single, top=2))
    assert page.sections == [s for s in SECTIONS if s != "pareto"]
    assert page.rows["leaderboard"] >= 1 + min(2, single.search_results_["status"].count("ok"))


def test_the_cli_writes_the_report_of_a_saved_model(fitted, tmp_path, capsys):
    model = tmp_path / "model.sknas"
    fitted.save(model)
    out = tmp_path / "out.html"
    assert main(["report", str(model), "-o", str(out)]) == 0
    assert "wrote the search report" in capsys.readouterr().err
    page = Page(out.read_text(encoding="utf-8"))
    assert page.sections == list(SECTIONS)
    assert "240" in page.text["data"]  # the row count survived save and load
    for _, src, _ in page.images:
        _decode(src)


def test_an_unfitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        sknas.report(AutoNASClassifier(), tmp_path / "r.html")


# ---------------------------------------------------------------------------------------
# in a real browser
# ---------------------------------------------------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Appended to a copy of the report: once everything loaded, the page writes what it measured into itself.
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (im) { return !im.complete || im.naturalWidth === 0; });
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({height: document.documentElement.scrollHeight, images: images.length,
                                    broken: broken.map(function (im) { return im.alt; })});
  document.body.appendChild(out);
});
</script>"""


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium or Chrome on this machine")


@pytest.mark.slow
def test_the_report_renders_in_a_headless_browser(fitted, tmp_path):
    browser = _browser()
    text = render_report(fitted)
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    common = [browser, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"]
    dom = subprocess.run([*common, "--dump-dom", probed.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-500:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["images"] == 5 and probe["broken"] == []
    assert 2500 < probe["height"] < 20000, probe  # eight sections, five plots: a long page, not a broken one
    page = tmp_path / "report.html"
    page.write_text(text, encoding="utf-8")
    shot = tmp_path / "report.png"
    common[-1] = f"--window-size=1200,{probe['height']}"
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    image = Image.open(shot)
    image.load()
    assert image.size == (1200, probe["height"])
    pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 20  # text and plots, not a blank page
