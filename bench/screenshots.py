"""Screenshots of what users see, at the widths people use: the zone chart (`scaling chart zone`), the plan
report (`scaling plan --html`) and the app's three views (plan, memory, runs), in headless Chromium.

Run: python bench/screenshots.py [--out shots] [--widths 1500,1000]

Writes ``<view>-<width>.png`` and each chart alone (``<view>-<width>-chart<i>.png``) into ``--out``, and
prints per shot the page's width against the window's (a wider page scrolls sideways) and the labels of a
zone chart that leave its plot area. Needs selenium, chromium and chromedriver (as the browser tests).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the labels of every zone chart on the page (its title names the zone) whose box leaves its plot area
LABELS_OUTSIDE_JS = """
const out = [];
for (const svg of document.querySelectorAll('.main-svg')) {
  const bg = svg.querySelector('g.draglayer .nsewdrag'), title = svg.parentElement.querySelector('.gtitle');
  if (!bg || !title || !/zone/i.test(title.textContent)) continue;
  const area = bg.getBoundingClientRect();
  for (const t of svg.parentElement.querySelectorAll('g.annotation-text-g text')) {
    const b = t.getBoundingClientRect();
    if (b.width && (b.left < area.left - 1 || b.right > area.right + 1 || b.top < area.top - 1
        || b.bottom > area.bottom + 1)) out.push(t.textContent);
  }
}
return out;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="shots")
    parser.add_argument("--widths", default="1500,1000")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    widths = [int(w) for w in args.widths.split(",")]

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from werkzeug.serving import make_server

    from scaling import charts
    from scaling.app import create_app, free_port
    from scaling.charts.plan_report import write_plan_report
    from scaling.fit import synthetic_runs
    from scaling.plan import make_plan

    folder = Path(tempfile.mkdtemp())
    synthetic_runs("chinchilla", noise=0.005, seed=5).to_csv(folder / "runs.csv", index=False)
    charts.save(charts.zone_figure(), folder / "zone.html", div_id="zone")
    write_plan_report(
        make_plan(gpus="256xH100", days="30", price="2.5"), folder / "report.html", charts.zone_figure
    )
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    http = make_server("127.0.0.1", port, create_app(runs_dir=folder).server, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    app = f"http://127.0.0.1:{port}"

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)

    def fit_runs(d):
        d.find_element(By.ID, "runs-dir-button").click()
        WebDriverWait(d, 180).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#runs-summary table"))

    views = {
        "zone": ((folder / "zone.html").as_uri(), "g.annotation-text-g text", None),
        "report": ((folder / "report.html").as_uri(), "g.annotation-text-g text", None),
        "app-plan": (f"{app}/?gpus=256xH100&days=30&price=2.5", "#plan-layouts table", None),
        "app-memory": (
            f"{app}/?view=memory&model=llama-2-7b&gpus=8xH100&zero=3",
            "#memory-table table",
            None,
        ),
        "app-runs": (f"{app}/?view=runs&bootstrap=20", "#runs-bootstrap", fit_runs),
    }
    try:
        print(f"{'view':<12} {'width':>5}  {'page':>5}  labels outside the plot area")
        for width in widths:
            for name, (url, ready, then) in views.items():
                driver.set_window_size(width, 1200)
                driver.get(url)
                WebDriverWait(driver, 120).until(lambda d, css=ready: d.find_elements(By.CSS_SELECTOR, css))
                if then:
                    then(driver)
                time.sleep(1.5)  # plotly's resize and the responsive relayout
                if name.startswith("app") or name == "report":  # the whole page; the zone page is its window
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.set_window_size(width, min(height + 140, 6000))
                    time.sleep(1.0)
                page = driver.execute_script("return document.documentElement.scrollWidth")
                outside = driver.execute_script(LABELS_OUTSIDE_JS)
                driver.save_screenshot(str(out / f"{name}-{width}.png"))
                for i, plot in enumerate(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")):
                    plot.screenshot(str(out / f"{name}-{width}-chart{i + 1}.png"))  # each chart at full size
                print(f"{name:<12} {width:>5}  {page:>5}  {', '.join(outside) or '-'}")
    finally:
        driver.quit()
        http.shutdown()


if __name__ == "__main__":
    main()
