"""Writing a figure: interactive HTML (plotly.js inlined, or written once beside the files) or a static image
through kaleido and a system Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go

from scaling.errors import ScalingError
from scaling.inputs import checked_path

EXPORT_HINT = (
    "image export needs kaleido and a Chromium browser: pip install 'scaling[export]' and "
    "apt-get install chromium (or set BROWSER_PATH to a Chrome/Chromium binary); "
    "or write .html instead, which needs neither"
)


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp")


HTML_SUFFIXES = (".html", ".htm")


# A figure whose ``layout.meta.responsive`` holds {"below": px, "narrow": {...}, "wide": {...}} (plotly relayout
# updates) takes the narrow updates while its plot is narrower than ``below`` and the wide ones otherwise: the
# zone's labels are placed for a range of widths, and a narrow page gets its own. RESPONSIVE_FUNCTION applies
# them to a drawn plot (``gd``), again on every resize and redraw (the app's graph redraws a new figure with
# the wide set), and sizes a Dash graph's box to the chosen height; RESPONSIVE_JS runs it in a written page.
RESPONSIVE_FUNCTION = """function (gd) {
  if (!gd || gd._responsive) return;
  var value = function (layout, path) {
    return path.split('.').reduce(function (o, k) { return o === undefined ? o : o[k]; }, layout);
  };
  gd._responsive = function () {
    var r = gd.layout && gd.layout.meta && gd.layout.meta.responsive;
    if (!r) return;
    var want = gd.getBoundingClientRect().width < r.below ? r.narrow : r.wide;
    var box = gd.closest('.dash-graph');
    if (box) box.style.height = want.height + 'px';
    var shown = Object.keys(want).every(function (k) {
      return k === 'annotations' || value(gd.layout, k) === want[k];
    });
    if (!shown) Plotly.relayout(gd, JSON.parse(JSON.stringify(want)));
  };
  window.addEventListener('resize', gd._responsive);
  if (gd.on) gd.on('plotly_afterplot', gd._responsive);
  gd._responsive();
}"""
RESPONSIVE_JS = "(" + RESPONSIVE_FUNCTION + ")(document.getElementById('{plot_id}'));"


HTML_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}, "responsive": True}


def save(
    fig: go.Figure,
    path: str | Path,
    *,
    plotlyjs: str = "inline",
    div_id: str | None = None,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
) -> Path:
    """Write a figure; the suffix picks the format.

    ``.html``: interactive. ``plotlyjs="inline"`` (default) inlines plotly.js (~4.8 MB, works with no
    network); ``"directory"`` writes ``plotly.min.js`` beside the HTML and references it (several charts,
    one script; keep them together). ``div_id`` fixes the plot's id so the HTML is reproducible.
    ``.png``/``.svg``/``.pdf``/``.jpg``/``.webp``: a static image through kaleido (the ``export`` extra) and
    a system Chromium.
    """
    path = checked_path(path, "output")
    suffix = path.suffix.lower()
    if plotlyjs not in ("inline", "directory"):
        raise ScalingError(
            f"invalid plotlyjs {plotlyjs!r}: expected 'inline' (one self-contained file) or "
            "'directory' (plotly.min.js written beside the HTML)"
        )
    if suffix in HTML_SUFFIXES:
        import plotly.io as pio

        path.parent.mkdir(parents=True, exist_ok=True)
        html = pio.to_html(
            fig,
            include_plotlyjs=True if plotlyjs == "inline" else "directory",
            full_html=True,
            div_id=div_id,
            config=HTML_CONFIG,
            default_width="100%",
            default_height="100%",
            post_script=RESPONSIVE_JS,
        )
        # let the plot fill the window: the div's 100% height needs a sized body to resolve against; a figure
        # whose labels are placed for a width (``layout.meta.min_width``) scrolls below it
        meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
        narrowest = f" body {{min-width: {int(meta['min_width'])}px;}}" if meta.get("min_width") else ""
        html = html.replace(
            "<head>",
            "<head><title>"
            + _html_title(fig)
            + f"</title><style>html, body {{height: 100%; margin: 0;}}{narrowest}</style>",
            1,
        )
        path.write_text(html, encoding="utf-8")
        if plotlyjs == "directory":
            _write_plotlyjs(path.parent)
        return path
    if suffix not in IMAGE_SUFFIXES:
        raise ScalingError(
            f"cannot write {str(path)!r}: the file name must end in one of "
            + ", ".join(HTML_SUFFIXES + IMAGE_SUFFIXES)
        )
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        raise ScalingError(f"cannot write {str(path)!r}: kaleido is not installed; {EXPORT_HINT}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.write_image(path, width=width or 1200, height=height or 700, scale=scale or 1)
    except Exception as exc:  # kaleido/choreographer raise several types when no browser can start
        text = f"{type(exc).__name__}:\n{exc}"
        if re.search(r"chrom|browser|kaleido", text, re.IGNORECASE):
            raise ScalingError(
                f"cannot write {str(path)!r}: no usable Chromium was found ({_first_line(text)}); "
                f"{EXPORT_HINT}"
            ) from None
        raise
    return path


def _html_title(fig: go.Figure) -> str:
    import html

    text = fig.layout.title.text or "scaling chart"
    return html.escape(re.sub(r"<[^>]+>", "", text))


def _write_plotlyjs(folder: Path) -> None:
    """plotly.min.js beside the HTML files (what include_plotlyjs="directory" references)."""
    target = folder / "plotly.min.js"
    if not target.exists():
        from plotly.offline import get_plotlyjs

        target.write_text(get_plotlyjs(), encoding="utf-8")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().endswith(":")]
    line = lines[0] if lines else text.strip()
    return line if len(line) <= 160 else line[:157] + "..."
