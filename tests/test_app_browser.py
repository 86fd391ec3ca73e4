"""`scaling app` in a real headless Chromium (Debian's chromium + chromium-driver through Selenium).

Skipped, with the reason, where Dash, Selenium, chromium or chromedriver is missing. Nothing is downloaded:
the app serves its own scripts and the browser has networking to this machine only. A failing test leaves a
screenshot in its temporary folder (the path is in the failure message).
"""

from __future__ import annotations

import shutil
import threading

import pytest

pytest.importorskip("dash")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"),
    pytest.mark.skipif(
        CHROMEDRIVER is None, reason="no chromedriver on PATH (apt-get install chromium-driver)"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free loopback port, served from a thread for the module's tests."""
    from werkzeug.serving import make_server

    from scaling.app import create_app, free_port
    from scaling.fit import synthetic_runs

    folder = tmp_path_factory.mktemp("sweep")
    synthetic_runs("chinchilla", noise=0.005, seed=5).to_csv(folder / "runs.csv", index=False)
    port = free_port()
    http = make_server("127.0.0.1", port, create_app(runs_dir=folder).server, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    http.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1500,1800",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture()
def page(browser, tmp_path, request):
    """The browser; when the test fails, a screenshot of the page is saved and its path printed."""
    failed_before = request.session.testsfailed
    yield browser
    if request.session.testsfailed > failed_before:  # the call's failure is counted before teardown
        shot = tmp_path / "failure.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the failed page: {shot}")


def retype(field, text: str) -> None:
    """Replace a field's text as a user would (select all, type); React ignores Selenium's clear()."""
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def shown(driver, key: str, timeout: float = 60) -> float:
    """The exact value of a summary cell once the plan is on the page (read again if the page re-renders)."""

    def value(d):
        cells = d.find_elements(By.ID, f"plan-value-{key}")
        return cells[0].get_attribute("data-value") if cells else None

    wait = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return float(wait.until(value))


def test_a_shared_link_shows_its_plan_without_a_click(server, page):
    from scaling.plan import make_plan

    page.get(f"{server}/?gpus=256xH100&days=30&mfu=0.4&law=chinchilla&price=2.5")
    expected = make_plan(gpus="256xH100", days="30", mfu="0.4", law="chinchilla", price="2.5").to_dict()
    for key in ("params", "tokens", "loss", "days", "gpu_hours", "cost_usd"):
        assert shown(page, key) == pytest.approx(expected[key], rel=1e-12), key
    assert page.find_element(By.ID, "plan-gpus").get_attribute("value") == "256xH100"
    assert "scaling plan --gpus 256xH100 --days 30" in page.find_element(By.ID, "plan-command").text
    assert page.find_elements(By.CSS_SELECTOR, "#plan-zone .main-svg")


# every label of the zone (model names, the plan's, the laws' names) and its plot area, on screen
ZONE_LABELS_JS = """
const box = e => {const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];};
const zone = document.getElementById('plan-zone');
return {area: box(zone.querySelector('g.draglayer g.xy rect.nsewdrag')),
        labels: [...zone.querySelectorAll('g.annotation-text-g text')].map(t => [t.textContent, box(t)]),
        title: zone.querySelector('.gtitle').textContent,
        svg: box(zone.querySelector('.main-svg')), box: box(zone.parentElement),
        page: [document.documentElement.scrollWidth, document.documentElement.clientWidth]};
"""


@pytest.mark.parametrize("width", [1500, 1000])
def test_the_zone_fills_its_column_with_every_label_inside_the_plot(server, page, width):
    # at 1,500 px beside the form, with the labels placed for wide plots; at 1,000 px the form's fields flow
    # above the outputs and the zone swaps in its narrow labels (`charts.export.RESPONSIVE_FUNCTION`)
    from scaling import charts

    page.set_window_size(width, 1400)
    try:
        page.get(f"{server}/?gpus=256xH100&days=30&price=2.5")
        WebDriverWait(page, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#plan-zone g.annotation-text-g text")
        )
        narrow = width < charts.ZONE_SIZE[0] + 300  # the outputs' column is narrower than the window
        want = "The optimal zone" if narrow else "Compute-optimal model size"
        WebDriverWait(page, 30).until(lambda d: d.execute_script(ZONE_LABELS_JS)["title"].startswith(want))
        shown = page.execute_script(ZONE_LABELS_JS)
        area, svg, box = shown["area"], shown["svg"], shown["box"]
        assert svg[2] - svg[0] == pytest.approx(box[2] - box[0], abs=1)  # it fills its box, no scrolling
        assert shown["page"][0] <= shown["page"][1]  # and the page does not stick out sideways
        names = [name for name, _ in shown["labels"]]
        assert "Kaplan" in names and "Llama 3 IsoFLOP" in names and "this plan (28B)" in names
        for name, label in shown["labels"]:
            inside = (
                area[0] <= label[0] and label[2] <= area[2] and area[1] <= label[1] and label[3] <= area[3]
            )
            assert inside, f"label {name!r} at {label} leaves the plot area {area}"
    finally:
        page.set_window_size(1500, 1800)


def test_the_choices_are_menus_and_the_free_fields_show_an_example(server, page):
    page.get(f"{server}/?gpus=256xH100&days=30")
    WebDriverWait(page, 60).until(lambda d: d.find_elements(By.ID, "plan-schedule"))
    menu = page.find_element(By.ID, "plan-schedule")
    assert "cosine (default)" in menu.text  # an empty menu shows its default
    menu.click()
    listbox = f"[id='{menu.get_attribute('aria-controls')}'] [role=option]"  # the open menu's options
    options = WebDriverWait(page, 10).until(
        lambda d: [o.text for o in d.find_elements(By.CSS_SELECTOR, listbox)] or None
    )
    assert options == ["cosine", "wsd"]
    assert (
        page.find_element(By.ID, "plan-serve-on").get_attribute("placeholder")
        == "serving devices, e.g. 8xH100"
    )
    suggestions = page.find_elements(By.CSS_SELECTOR, "#plan-serve-on-options option")
    assert "8xH100-SXM" in [o.get_attribute("value") for o in suggestions]


def test_changing_the_device_count_changes_days_not_cost(server, page):
    page.get(f"{server}/?flops=1e23&gpus=256xH100&price=2.5")
    days, cost = shown(page, "days"), shown(page, "cost_usd")
    retype(page.find_element(By.ID, "plan-gpus"), "512xH100")
    # one end-to-end MFU: twice the devices take half the days for the same dollars
    WebDriverWait(page, 60).until(lambda d: shown(d, "days") < 0.7 * days)
    assert shown(page, "days") == pytest.approx(0.5 * days, rel=0.01)
    assert shown(page, "cost_usd") == pytest.approx(cost, rel=0.01)
    WebDriverWait(page, 10).until(lambda d: "gpus=512xH100" in d.current_url)  # the link follows the page


def test_a_memory_link_opens_the_memory_view_and_follows_it(server, page):
    import json

    from click.testing import CliRunner

    from scaling.cli import main

    page.get(f"{server}/?view=memory&model=llama-2-7b&mode=train&gpus=16xH100&zero=1")
    cli = ["memory", "llama-2-7b", "--mode", "train", "--gpus", "16xH100", "--zero", "1", "--json"]
    total = f"{json.loads(CliRunner().invoke(main, cli).stdout)['total_bytes'] / 2**30:,.3f}"
    # the link's fields, the CLI's numbers (the page may first show its defaults' table for a moment)
    WebDriverWait(page, 60).until(lambda d: total in d.find_element(By.ID, "memory-table").text)
    assert page.find_element(By.ID, "memory-gpus").get_attribute("value") == "16xH100"
    assert (
        "scaling memory llama-2-7b --mode train --gpus 16xH100"
        in page.find_element(By.ID, "memory-command").text
    )
    retype(page.find_element(By.ID, "memory-gpus"), "32xH100")
    WebDriverWait(page, 30).until(
        lambda d: "gpus=32xH100" in d.current_url and "view=memory" in d.current_url
    )
    tab = "//*[contains(@class, 'tab') and normalize-space()='Plan']"
    page.find_elements(By.XPATH, tab)[0].click()  # back on the plan, the address is the plan's link again
    WebDriverWait(page, 30).until(lambda d: "view=memory" not in d.current_url)


def test_bad_input_shows_next_to_its_field_and_the_app_keeps_serving(server, page):
    page.get(f"{server}/?gpus=256xH100&days=abc")
    error = WebDriverWait(page, 60).until(lambda d: d.find_element(By.ID, "plan-days-error").text or None)
    assert "invalid --days 'abc'" in error
    page.get(f"{server}/?gpus=256xH100&days=30")
    assert shown(page, "days") == pytest.approx(30, rel=0.01)


def test_uploading_a_runs_table_shows_a_fitted_law(server, page, tmp_path):
    from scaling.fit import synthetic_runs

    path = tmp_path / "myruns.csv"
    synthetic_runs("chinchilla", noise=0.005, seed=6).to_csv(path, index=False)
    page.get(server)
    tab = "//*[contains(@class, 'tab') and normalize-space()='Runs and fits']"
    WebDriverWait(page, 60).until(lambda d: d.find_elements(By.XPATH, tab))[0].click()
    retype(page.find_element(By.ID, "runs-bootstrap"), "10")
    page.find_element(By.CSS_SELECTOR, "#runs-upload input[type=file]").send_keys(str(path))
    # before a fit the summary says what a fit shows; after it, the tables `scaling fit` prints
    WebDriverWait(page, 120).until(lambda d: "Approach 3" in d.find_element(By.ID, "runs-summary").text)
    summary = page.find_element(By.ID, "runs-summary").text
    assert "alpha" in summary and "constant" in summary
    assert page.find_element(By.ID, "runs-frontier").is_displayed()  # the charts show once drawn
    page.find_element(By.ID, "runs-use-law").click()
    WebDriverWait(page, 60).until(lambda d: "fit:myruns" in d.find_element(By.ID, "plan-law").text)
    assert shown(page, "params") > 0


def test_the_best_layouts_table_fits_its_column(server, page):
    page.get(f"{server}/?gpus=256xH100&days=30")
    WebDriverWait(page, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan-layouts table"))
    scroll, client, headers = page.execute_script(
        "var box = document.querySelector('#plan-layouts .scaling-table');"
        "return [box.scrollWidth, box.clientWidth,"
        " [...box.querySelectorAll('th')].map(h => h.textContent)];"
    )
    assert "headroom" in headers and "tokens/s" in headers
    assert scroll <= client  # every column on screen: nothing cut at 1,500 px


def test_the_runs_view_keeps_its_state_in_the_link(server, page):
    page.get(f"{server}/?view=runs&bootstrap=25")
    field = WebDriverWait(page, 60).until(lambda d: d.find_element(By.ID, "runs-bootstrap"))
    WebDriverWait(page, 30).until(lambda d: field.get_attribute("value") == "25" and field.is_displayed())
    retype(field, "40")
    WebDriverWait(page, 30).until(lambda d: "view=runs" in d.current_url and "bootstrap=40" in d.current_url)
