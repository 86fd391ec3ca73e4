"""How the charts look and what they call things: colours, dash patterns and marker symbols that tell series
apart in grey too, the page template, and each law's name in legends and titles."""

from __future__ import annotations

import re

from scaling.laws import Law

# Colours differ in lightness as well as hue (Okabe-Ito, reordered dark to light), and each series also gets
# its own dash pattern and marker symbol, so a grey printout still tells them apart.
COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")


DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash")


SYMBOLS = (
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "cross",
    "x",
    "triangle-down",
    "star",
    "pentagon",
    "hexagon",
    "circle-open",
    "square-open",
)


PATTERNS = ("", "/", "\\", "x", ".", "+", "-", "|")


# The optimal zone: dark enough to read as a shaded region under the law lines that bound it.
ZONE_FILL = "rgba(0, 114, 178, 0.30)"


BAND_FILL = "rgba(213, 94, 0, 0.18)"


FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}


# A small explicit template: white paper, our colours. (Naming a built-in template such as "plotly_white"
# costs a JSON load and a deep copy per figure, a third of a second on first use.)
TEMPLATE = {
    "layout": {"paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(COLOURS), "font": FONT}
}


# Names for the shipped presets; any other law is labelled with its own name.
LAW_TITLES = {
    "chinchilla": "Chinchilla Approach 3",
    "chinchilla-printed": "Chinchilla Approach 3, printed constants",
    "chinchilla-a1": "Chinchilla Approach 1",
    "chinchilla-a2": "Chinchilla Approach 2",
    "epoch": "Epoch AI replication",
    "kaplan": "Kaplan",
    "muennighoff": "Muennighoff (data-constrained)",
    "llama3": "Llama 3 IsoFLOP",
    "llama3-text": "Llama 3 IsoFLOP, text values",
    "deepseek": "DeepSeek LLM",
}


# One colour and dash per law, wherever it is drawn: keyed by the law's name, so the same law looks the same in
# `scaling chart zone` and the app whatever the order of the laws. A law not listed here (a law file, your fit)
# takes the first colour no drawn law uses (`law_styles`).
LAW_STYLES = {
    "chinchilla-a1": ("#000000", "solid"),
    "chinchilla-a2": ("#0072B2", "dash"),
    "chinchilla": ("#D55E00", "dot"),
    "kaplan": ("#009E73", "dashdot"),
    "epoch": ("#CC79A7", "longdash"),
    "llama3": ("#E69F00", "longdashdot"),
    "llama3-text": ("#E69F00", "dash"),
    "deepseek": ("#56B4E9", "solid"),
    "chinchilla-printed": ("#D55E00", "dash"),
    "muennighoff": ("#999999", "dot"),
}


def law_styles(names: list[str]) -> list[tuple[str, str]]:
    """(colour, dash) for each law name in ``names``: the law's own from `LAW_STYLES`, else the first of
    `COLOURS` that no other drawn law uses (cycling when all are taken)."""
    used = {LAW_STYLES[name][0] for name in names if name in LAW_STYLES}
    free = [c for c in COLOURS if c not in used] or list(COLOURS)
    styles, spare = [], 0
    for name in names:
        if name in LAW_STYLES:
            styles.append(LAW_STYLES[name])
        else:
            styles.append((free[spare % len(free)], DASHES[spare % len(DASHES)]))
            spare += 1
    return styles


def _short_source(source: str) -> str:
    """'Besiroglu, Erdil, Barnett & You 2024, ...' -> 'Besiroglu et al. 2024';
    'Kaplan et al. 2020 (...)' kept."""
    match = re.match(r"^\s*([A-Z][\w'\-]*(?: Team| AI|-AI)?)(.*?)\b((?:19|20)\d\d)\b", source or "")
    if match and len(match.group(2)) < 40 and "(" not in match.group(2):
        rest = match.group(2).strip(" ,")
        first = match.group(1)
        return f"{first} {match.group(3)}" if not rest else f"{first} et al. {match.group(3)}"
    text = (source or "").strip()
    return text if len(text) <= 60 else text[:57].rstrip() + "..."


def law_label(law: Law) -> str:
    """The legend entry: what the law is, who published it, and its exponent, e.g.
    'Chinchilla Approach 3 (Hoffmann et al. 2022), N ∝ C^0.457'."""
    n_runs = getattr(law, "n_runs", 0)
    if n_runs:
        who = f"your fit to {n_runs} runs"
    else:
        who = _short_source(law.source)
    title = LAW_TITLES.get(law.name, law.name)
    return f"{title} ({who}), N ∝ C^{law.a:.3g}" if who else f"{title}, N ∝ C^{law.a:.3g}"


def law_title(law: Law) -> str:
    n_runs = getattr(law, "n_runs", 0)
    if n_runs:
        return f"your Approach 3 fit ({n_runs} runs)"
    return LAW_TITLES.get(law.name, law.name)
