"""Interactive charts: the optimal zone, IsoFLOP profiles, the loss frontier, memory breakdowns, fit
diagnostics.

Every ``*_figure`` function returns a `plotly.graph_objects.Figure` and does no I/O; `save` writes one to
HTML (self-contained, plotly.js inlined, works offline) or, through kaleido and a system Chromium, to
PNG/SVG/PDF. Charts read results (laws, fits, runs tables, memory breakdowns); nothing imports this package
except the CLI and users.

How the charts stay readable, in colour and printed in grey:

* log axes label whole decades only (FLOPs as powers of ten, counts as 1B, 100B, 1T);
* every axis title carries its unit; compute is shown in FLOPs with PF-days (8.64e19 FLOPs) on the top axis
  and in every hover;
* each law has its own dash pattern as well as its own colour, and markers differ by symbol;
* hover text shows formatted numbers (7B, 1.4T, 5.76e23 FLOP, 6.67e3 PF-days, 20 tokens/param).

Where things live: one module per figure (``optimal_zone``, ``isoflop_profiles``, ``loss_frontier``,
``memory_bars``, ``fit_diagnostics``), the parts they share (``style``: colours, symbols, law names;
``text``: numbers and hover text; ``axes``: axes and page layout; ``traces``: a scatter and a shaded band;
``inputs``: laws, runs tables, plans and known models as the charts read them; ``label_placement``: labels
that overlap nothing), ``export`` (`save`), and ``plan_report`` (a plan's HTML report, imported on its own).
"""

from __future__ import annotations

from scaling.charts.export import EXPORT_HINT, HTML_CONFIG, HTML_SUFFIXES, IMAGE_SUFFIXES, save
from scaling.charts.fit_diagnostics import diagnostics_figure
from scaling.charts.inputs import KNOWN_MODELS_FILE, known_models_list, read_known_models
from scaling.charts.isoflop_profiles import isoflop_figure
from scaling.charts.label_placement import MODEL_MARKER, PLAN_MARKER
from scaling.charts.loss_frontier import frontier_figure
from scaling.charts.memory_bars import ACROSS_TITLES, MEMORY_COMPONENTS, memory_figure
from scaling.charts.optimal_zone import (
    DEFAULT_FLOPS_RANGE,
    DEFAULT_LAWS,
    ZONE_LAWS,
    ZONE_MIN_WIDTH,
    ZONE_SIZE,
    zone_figure,
)
from scaling.charts.style import (
    BAND_FILL,
    COLOURS,
    DASHES,
    FONT,
    LAW_TITLES,
    PATTERNS,
    SYMBOLS,
    TEMPLATE,
    ZONE_FILL,
    law_label,
)

__all__ = [
    "ACROSS_TITLES",
    "BAND_FILL",
    "COLOURS",
    "DASHES",
    "DEFAULT_FLOPS_RANGE",
    "DEFAULT_LAWS",
    "EXPORT_HINT",
    "FONT",
    "HTML_CONFIG",
    "HTML_SUFFIXES",
    "IMAGE_SUFFIXES",
    "KNOWN_MODELS_FILE",
    "LAW_TITLES",
    "MEMORY_COMPONENTS",
    "MODEL_MARKER",
    "PATTERNS",
    "PLAN_MARKER",
    "SYMBOLS",
    "TEMPLATE",
    "ZONE_FILL",
    "ZONE_LAWS",
    "ZONE_MIN_WIDTH",
    "ZONE_SIZE",
    "diagnostics_figure",
    "frontier_figure",
    "isoflop_figure",
    "known_models_list",
    "law_label",
    "memory_figure",
    "read_known_models",
    "save",
    "zone_figure",
]
