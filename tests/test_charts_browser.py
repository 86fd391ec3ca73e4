"""The HTML charts draw in a real headless Chromium with no network (skipped where no chromium is installed).

CI installs Debian's ``chromium`` (.ci/run). Each page is rendered with ``--dump-dom``; the test checks that
plotly drew its SVG and one trace group per trace of the figure, not just that a file exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from scaling import charts
from scaling.fit import fit_isoflop, synthetic_runs
from scaling.laws import COMPARISON_LAWS, get_law, with_replicates

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"),
]
TRACE_GROUP = re.compile(r'<g class="trace (scatter|bars)\b')


def render(path, *extra: str) -> str:
    """The DOM after plotly has drawn, from a headless Chromium with networking off."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1200,800",
                "--virtual-time-budget=5000",
                *extra,
                path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def assert_drawn(dom: str, fig) -> None:
    assert 'class="main-svg"' in dom, "plotly did not draw its SVG"
    groups = TRACE_GROUP.findall(dom)
    expected = [("bars" if t.type == "bar" else "scatter") for t in fig.data]
    assert sorted(groups) == sorted(expected), (len(groups), len(expected))


@pytest.fixture(scope="module")
def runs():
    return synthetic_runs("chinchilla", noise=0.005, seed=2)


def test_zone_chart_renders_offline(tmp_path):
    law = with_replicates(
        get_law("epoch"),
        get_law("epoch").params * np.exp(0.02 * np.random.default_rng(0).standard_normal((100, 5))),
    )
    fig = charts.zone_figure(plan={"params": 7e9, "tokens": 2e12}, fitted=law)
    path = charts.save(fig, tmp_path / "zone.html", div_id="zone")
    dom = render(path, "--dump-dom")
    assert_drawn(dom, fig)
    assert 'id="zone"' in dom and "Chinchilla 70B" in dom and "PF-days" in dom


def test_isoflop_frontier_diagnostics_render(tmp_path, runs):
    figures = {
        "isoflop": charts.isoflop_figure(runs, fit_isoflop(runs)),
        "frontier": charts.frontier_figure(
            runs, "chinchilla", holdout=np.asarray(runs["C"] >= 1e21), target_flops=1e22
        ),
        "diagnostics": charts.diagnostics_figure(runs, "chinchilla"),
    }
    for name, fig in figures.items():
        # the shared-script layout: plotly.min.js once, beside the pages
        path = charts.save(fig, tmp_path / f"{name}.html", plotlyjs="directory", div_id=name)
        assert_drawn(render(path, "--dump-dom"), fig)


def test_memory_chart_renders(tmp_path):
    from scaling.cluster import Cluster
    from scaling.memory import Parallelism, estimate_memory

    fig = charts.memory_figure(
        {
            f"ZeRO-{z}": estimate_memory(
                "llama-2-7b", parallel=Parallelism.of(zero=z), cluster=Cluster.of("H100", 8)
            )
            for z in range(4)
        }
    )
    path = charts.save(fig, tmp_path / "memory.html", div_id="memory")
    dom = render(path, "--dump-dom")
    assert_drawn(dom, fig)
    assert "capacity" in dom


def test_zone_screenshot_is_an_image(tmp_path):
    path = charts.save(charts.zone_figure(), tmp_path / "zone.html", div_id="zone")
    shot = tmp_path / "zone.png"
    render(path, f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page is a few KB


def test_image_export_through_kaleido(tmp_path):
    pytest.importorskip("kaleido")
    out = charts.save(charts.zone_figure(), tmp_path / "zone.svg", width=900, height=500)
    assert out.read_text(encoding="utf-8").lstrip().startswith("<svg")


# ------------------------------------------------------------------------ labels from the rendered SVG
BOXES_JS = """
const box = e => {const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];};
const texts = [...document.querySelectorAll('g.annotation-text-g text, g.trace.scatter g.textpoint text')]
  .filter(t => t.textContent.trim()).map(t => [t.textContent, box(t)]);
const markers = [...document.querySelectorAll('g.trace.scatter g.points path.point')].map(box)
  .filter(b => b[2] > b[0]);
// the drawn lines (not the hidden axis trace nor the zone's unstroked edges), as screen points every 2 px
const drawn = p => p.closest('g.trace').style.opacity !== '0' && parseFloat(p.style.strokeWidth) > 0;
const lines = [...document.querySelectorAll('g.trace.scatter path.js-line')].filter(drawn).map(p => {
  const m = p.getScreenCTM(), n = p.getTotalLength(), out = [];
  for (let s = 0; s <= n; s += 2) {const q = p.getPointAtLength(s).matrixTransform(m); out.push([q.x, q.y]);}
  return out;
});
const area = box(document.querySelector('g.draglayer g.xy rect.nsewdrag'));
return {texts, markers, lines, area};
"""


@pytest.fixture(scope="module")
def driver():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chromedriver = shutil.which("chromedriver")
    if chromedriver is None:
        pytest.skip("no chromedriver on PATH (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,900"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield browser
    browser.quit()


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def rendered_boxes(driver, path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.find_elements("css selector", "g.annotation-text-g text"))
    return driver.execute_script(BOXES_JS)


@pytest.mark.parametrize(
    "plan, laws",
    [
        (None, charts.DEFAULT_LAWS),
        ({"params": 13e9, "tokens": 1e12, "name": "this plan (13B)"}, charts.DEFAULT_LAWS),
        ({"params": 70e9, "tokens": 1.4e12, "name": "this plan (llama-2-70b-like)"}, charts.DEFAULT_LAWS),
        # the plan's report and the app draw the comparison laws: Llama 3's line ends inside the zone's bundle
        ({"params": 28e9, "tokens": 1.56e12, "name": "this plan (28B)"}, COMPARISON_LAWS),
    ],
    ids=["known models", "plan on LLaMA 13B", "plan on Chinchilla 70B", "the plan's comparison laws"],
)
@pytest.mark.parametrize("width", [620, 800, 1000, 1500])
def test_no_label_overlaps_a_marker_a_law_line_or_another_label(tmp_path, driver, plan, laws, width):
    fig = charts.zone_figure(laws, plan=plan)
    path = charts.save(fig, tmp_path / "zone.html", div_id="zone")
    driver.set_window_size(width, 1000)
    boxes = rendered_boxes(driver, path)
    texts, markers = boxes["texts"], boxes["markers"]
    names = [name for name, _ in texts]
    assert "Kaplan" in names
    # below the zone's width the page swaps in labels placed for narrow widths: fewer fit, none overlaps
    wide = width >= charts.ZONE_SIZE[0]
    assert ("Chinchilla 70B" in names) if wide else len(names) >= 0.6 * len(charts.read_known_models())
    if plan:
        assert plan["name"] in names
    assert len(markers) == len(charts.read_known_models()) + (1 if plan else 0)
    area = boxes["area"]
    for i, (name, box) in enumerate(texts):
        assert area[0] <= box[0] and box[2] <= area[2] and area[1] <= box[1] and box[3] <= area[3], (
            f"label {name!r} leaves the plot area"
        )
        for other, other_box in texts[i + 1 :]:
            assert not _overlaps(box, other_box), f"label {name!r} overlaps label {other!r}"
        for marker in markers:
            assert not _overlaps(box, marker), f"label {name!r} overlaps a marker at {marker}"
        inner = (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1)  # glyph boxes carry a pixel of slack
        for line in boxes["lines"]:
            assert not any(inner[0] < x < inner[2] and inner[1] < y < inner[3] for x, y in line), (
                f"label {name!r} lies on a law's line"
            )


@pytest.mark.parametrize("width", [1500, 1000, 700])
def test_the_zone_fills_its_container(tmp_path, driver, width):
    path = charts.save(charts.zone_figure(), tmp_path / "zone.html", div_id="zone")
    driver.set_window_size(width, 1000)
    rendered_boxes(driver, path)
    svg, container = driver.execute_script(
        "return [document.querySelector('#zone .main-svg').getBoundingClientRect().width,"
        " document.getElementById('zone').parentElement.getBoundingClientRect().width];"
    )
    assert svg == pytest.approx(container, abs=1) and container > 0.9 * width - 40
    # narrower than the zone's width, the narrow layout (its own labels, a short title, one legend column)
    title = driver.execute_script("return document.querySelector('#zone .gtitle').textContent;")
    assert (title == "The optimal zone") == (container < charts.ZONE_SIZE[0]), title


def test_memory_capacity_label_sits_on_no_bar(tmp_path, driver):
    from scaling.cluster import Cluster
    from scaling.memory import Workload, memory_across

    for case in (
        {"flash_attention": True},
        {"flash_attention": False},
    ):  # the capacity line below and above bars
        fig = charts.memory_figure(
            memory_across("llama-2-7b", "zero", cluster=Cluster.of("H100", 8), workload=Workload.of(**case))
        )
        path = charts.save(fig, tmp_path / "memory.html", div_id="memory")
        driver.get(path.resolve().as_uri())
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 30).until(lambda d: d.find_elements("css selector", "g.annotation-text-g text"))
        boxes = driver.execute_script("""
            const box = e => {const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];};
            return {label: [...document.querySelectorAll('g.annotation-text-g text')].map(box),
                    bars: [...document.querySelectorAll('g.trace.bars g.point path')].map(box)};""")
        assert boxes["bars"] and len(boxes["label"]) == 1
        for bar in boxes["bars"]:
            assert not _overlaps(boxes["label"][0], bar)


@pytest.mark.parametrize(
    "budgets",
    [(3e9, 1e10), (3e11, 6e11, 1.2e12), (6e18, 1e19, 3e19, 1e20, 3e20, 1e21)],
    ids=["smoke", "small", "chinchilla"],
)
def test_isoflop_tick_labels_are_drawn_and_apart_on_every_axis(tmp_path, driver, budgets):
    import warnings

    runs = synthetic_runs("chinchilla", noise=0.003, budgets=budgets, per_budget=5, spread=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = charts.isoflop_figure(runs)
    path = charts.save(fig, tmp_path / "isoflop.html", div_id="isoflop")
    driver.set_window_size(1000, 900)  # the driver is shared: another test may have left it narrower
    driver.get(path.resolve().as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: all(d.find_elements("css selector", f"g.{axis} text") for axis in ("xtick", "ytick"))
    )
    ticks = driver.execute_script("""
        const box = e => {const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];};
        const out = {};
        for (const axis of ['xtick', 'x2tick', 'ytick', 'y2tick']) {
          out[axis] = [...document.querySelectorAll('g.' + axis + ' text')]
            .filter(t => t.textContent.trim()).map(t => [t.textContent, box(t)]);
        }
        return out;""")
    for axis, labels in ticks.items():
        assert len(labels) >= 3, (axis, [t for t, _ in labels])
        for i, (text, box) in enumerate(labels):
            for other, other_box in labels[i + 1 :]:
                assert not _overlaps(box, other_box), f"{axis}: tick {text!r} overlaps {other!r}"
