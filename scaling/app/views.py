"""What each view of `scaling app` computes, without Dash: fields in, library results out.

A view takes the page's fields as text, exactly as a user types them on the command line (the keys are the
CLI's flag names without ``--``: ``gpus``, ``days``, ``mfu``, ``law``...), calls the one library function the
matching command calls (`scaling.plan.make_plan`, `scaling.memory.estimate_memory`,
`scaling.fit.fit_parametric`), through the same option declarations (`scaling.options`), and returns the result with its figures and tables. So every number the page
shows is the number ``scaling plan ... --json`` prints for the same flags, and the tests compare the two.

Nothing here reads a server path that the browser names: laws and models are catalog names or files the user
uploaded (parsed as data, with a size limit); `Shelf` keeps uploaded and fitted laws in memory.
"""

from __future__ import annotations

import base64
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from scaling import inputs
from scaling.errors import ScalingError
from scaling.options import LAW, MEMORY, MFU, PLAN
from scaling.render import Table

# The plan view's fields: options of `scaling.options.PLAN`, by field name (the CLI flag without ``--``), so
# each field is the flag of ``scaling plan --gpus 256xH100 --days 30`` with its parser, help and placeholder.
PLAN_OPTIONS = PLAN.fields(
    (
        "model",
        "gpus",
        "days",
        "mfu",
        "flops",
        "usd",
        "price",
        "gpu_hours",
        "params",
        "tokens",
        "target_loss",
        "law",
        "unique_tokens",
        "inference_tokens",
        "serve_on",
        "max_params",
        "seq_len",
        "hp_law",
        "schedule",
        "goodput",
        "calibration",
    )
)
PLAN_FIELDS = tuple(PLAN_OPTIONS)
# The memory view's fields: options of `scaling.options.MEMORY` (``scaling memory``).
MEMORY_OPTIONS = MEMORY.fields(
    (
        "model",
        "mode",
        "gpus",
        "precision",
        "zero",
        "tp",
        "pp",
        "sp",
        "recompute",
        "micro_batch",
        "seq_len",
        "lora_rank",
        "quant",
        "batch",
        "context",
    )
)
MEMORY_FIELDS = tuple(MEMORY_OPTIONS)
DEFAULT_PLAN = {"gpus": "256xH100", "days": "30", "mfu": f"{MFU.default:g}", "law": LAW.default}
DEFAULT_MEMORY = {"model": "llama-2-7b", "mode": "train", "gpus": "8xH100", "zero": "3"}
MAX_UPLOAD_BYTES = 5_000_000  # a runs table of ~50,000 rows; law files and config.json are a few KB
SHELF_SIZE = 32  # uploaded and fitted laws kept per server, the oldest dropped first
LAYOUTS_SHOWN = 5


# ========================================================================================= the URL
def fields_from_query(query: str, names: tuple[str, ...] = PLAN_FIELDS) -> dict[str, str]:
    """The fields a shared link carries (``?gpus=256xH100&days=30``); unknown keys are ignored."""
    pairs = parse_qsl((query or "").lstrip("?"), keep_blank_values=False)
    return {key: value.strip() for key, value in pairs if key in names and value.strip()}


def query_from_fields(fields: dict[str, Any], names: tuple[str, ...] = PLAN_FIELDS) -> str:
    """The link for these fields: CLI flag names, in the CLI's order, empty fields left out."""
    pairs = [(name, str(fields[name]).strip()) for name in names if str(fields.get(name) or "").strip()]
    return "?" + urlencode(pairs) if pairs else ""


def view_of_query(query: str) -> str:
    """The view a link opens: ``?view=memory&...`` the memory view, ``?view=runs&...`` the runs view,
    anything else the plan (whose links carry no ``view``)."""
    view = dict(parse_qsl((query or "").lstrip("?"))).get("view")
    return view if view in ("memory", "runs") else "plan"


# The runs view's fields a link carries (an uploaded table stays in the browser: it is data, not a field).
RUNS_FIELDS = ("bootstrap",)


def runs_query(fields: dict[str, Any]) -> str:
    """The runs view's link: ``?view=runs`` and its fields (``&bootstrap=200``)."""
    return "?view=runs" + query_from_fields(fields, RUNS_FIELDS).replace("?", "&", 1)


def memory_query(fields: dict[str, Any]) -> str:
    """The memory view's link: ``?view=memory`` and its fields, as `query_from_fields` writes them."""
    return "?view=memory" + query_from_fields(fields, MEMORY_FIELDS).replace("?", "&", 1)


def with_accelerator(gpus: str | None, accelerator: str | None) -> str:
    """``--gpus`` with its accelerator replaced (``256xH100`` + ``A100-80GB`` -> ``256xA100-80GB``), keeping the
    device count (and nodes) as typed; a bare accelerator when no count was given."""
    text = (gpus or "").strip()
    if not accelerator:
        return text
    count = re.match(r"^(\d+(?:[xX]\d+)?)(?:[xX]|$)", text)
    return f"{count.group(1)}x{accelerator}" if count else accelerator


def command_line(fields: dict[str, Any], command: str = "plan", names: tuple[str, ...] = PLAN_FIELDS) -> str:
    """The same question as a command: ``scaling plan --gpus 256xH100 --days 30``."""
    parts = [f"scaling {command}"]
    for name in names:
        value = str(fields.get(name) or "").strip()
        if not value:
            continue
        if name == "model":
            parts.insert(1, _quote(value))
        elif name == "calibration":  # uploaded files by the names they were uploaded as, to run beside them
            parts.extend(f"--calibration {_quote(uploaded_file(n))}" for n in calibration_names(value))
        elif name == "sp":
            parts.append("--sp" if value.lower() in ("1", "true", "yes", "on") else "")
        else:
            parts.append(f"--{name} {_quote(value)}")
    return " ".join(p for p in parts if p)


CALIBRATION_PREFIX = "calibration:"  # an uploaded calibration on the shelf: calibration:mycluster.json


def calibration_names(value: str) -> list[str]:
    """The uploaded calibrations a --calibration field names (at most one training and one serving file,
    comma-separated)."""
    return [n.strip() for n in str(value or "").split(",") if n.strip()]


def uploaded_file(name: str) -> str:
    """The file an uploaded calibration was read from (``calibration:mycluster.json`` -> ``mycluster.json``)."""
    return name.removeprefix(CALIBRATION_PREFIX)


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[\w.,:%$/+\-]+", value) else "'" + value.replace("'", "'\\''") + "'"


# ============================================================================ uploaded and fitted laws
class Shelf:
    """Laws the user uploaded or fitted in this server, by name (``upload:mylaw``, ``fit:runs``), newest last.

    Only these names and the catalog's presets are accepted as ``law``: a law is never read from a path
    the browser sends."""

    def __init__(self, size: int = SHELF_SIZE) -> None:
        self._laws: OrderedDict[str, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, name: str, law: Any) -> str:
        with self._lock:
            self._laws.pop(name, None)
            self._laws[name] = law
            while len(self._laws) > self._size:
                self._laws.popitem(last=False)
        return name

    def names(self) -> list[str]:
        """The laws on the shelf (uploaded calibrations share it, but are no laws)."""
        with self._lock:
            return [name for name in self._laws if name not in self._calibrations()]

    def _calibrations(self) -> set[str]:
        from scaling.calibration.file import Calibration

        return {name for name, item in self._laws.items() if isinstance(item, Calibration)}

    def add_calibration(self, name: str, calibration: Any, field: str = "") -> str:
        """``calibration`` put on the shelf as ``name`` and the plan's --calibration field with it: beside
        the field's calibration of the other side (training or probe; serving), in place of one of its own."""
        from scaling.calibration.apply import TRAINING_SIDE
        from scaling.calibration.file import Calibration

        def other_side(item: Any) -> bool:
            return isinstance(item, Calibration) and (item.kind in TRAINING_SIDE) != (
                calibration.kind in TRAINING_SIDE
            )

        self.put(name, calibration)
        with self._lock:
            kept = [n for n in calibration_names(field) if n != name and other_side(self._laws.get(n))]
        return ", ".join([*kept, name])

    def calibration(self, name: str) -> Any:
        """An uploaded calibration on the shelf (``calibration:mycluster.json``). A shared link carries only its name:
        on a server that has not seen the file (another one, or after a restart) it is refused in one line
        asking for the file, and the rest of the link still fills the form."""
        from scaling.calibration.file import Calibration

        with self._lock:
            found = self._laws.get(name)
        if not isinstance(found, Calibration):
            raise ScalingError(
                f"invalid calibration {name!r}: not uploaded to this server (a link carries only its name): "
                "upload the calibration file again, or clear --calibration"
            )
        return found

    def law(self, name: str) -> Any:
        """A preset or a law on the shelf; anything else (a path, a typo) is refused."""
        from scaling.laws import get_law, list_laws

        with self._lock:
            if name in self._laws and name not in self._calibrations():
                return self._laws[name]
        presets = {law.name for law in list_laws()}
        try:
            law = (
                get_law(name) if "/" not in name and "\\" not in name and not name.endswith(".json") else None
            )
        except ScalingError:
            law = None
        if law is None or law.name not in presets:
            accepted = ", ".join(sorted(presets) + self.names())
            raise ScalingError(f"invalid law {name!r}: expected a preset or an uploaded law ({accepted})")
        return law


def calibration_from_upload(data: bytes, filename: str) -> Any:
    """A calibration file (``scaling calibrate -o mycluster.json``) parsed as data."""
    from scaling.calibration.file import calibration_from_dict

    try:
        entry = inputs.parse_json(data.decode("utf-8"), f"the calibration file {filename!r}")
    except UnicodeDecodeError:
        raise ScalingError(f"invalid calibration file {filename!r}: not UTF-8 text, so not JSON") from None
    return calibration_from_dict(entry, filename)


def decode_upload(contents: str, filename: str, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL, refused beyond ``limit`` bytes."""
    if not contents or "," not in contents:
        raise ScalingError(f"invalid upload {filename!r}: expected a file")
    payload = contents.split(",", 1)[1]
    if len(payload) * 3 // 4 > limit:
        raise ScalingError(f"upload {filename!r} is too large: at most {limit / 1e6:g} MB is accepted")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        raise ScalingError(f"invalid upload {filename!r}: the data is not base64") from None


def law_from_upload(data: bytes, filename: str) -> Any:
    """A law JSON file (``scaling fit -o law.json``) parsed as data."""
    from scaling.laws import law_from_dict

    try:
        entry = inputs.parse_json(data.decode("utf-8"), f"the law file {filename!r}")
    except UnicodeDecodeError:
        raise ScalingError(f"invalid law file {filename!r}: not UTF-8 text, so not JSON") from None
    return law_from_dict(entry, origin=filename)


# ============================================================================================== plan
@dataclass
class PlanView:
    """A plan for the page's fields, or the error to show next to the field it concerns."""

    fields: dict[str, str]
    plan: Any = None
    error: str | None = None
    error_field: str | None = None
    layouts: Any = None  # the best layouts (a DataFrame) for the plan's model and cluster
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)

    @property
    def query(self) -> str:
        return query_from_fields(self.fields)


def plan_options(fields: dict[str, str], shelf: Shelf) -> dict[str, Any]:
    """`make_plan` keywords for the fields (each field's option, `PLAN_OPTIONS`), the law from the shelf or
    the presets, and MODEL only as a catalog preset (the page never names a server file). The values stay
    text: `scaling.options.PLAN` parses them as it parses the command line's."""
    options = {
        PLAN_OPTIONS[name].name: str(value).strip()
        for name, value in fields.items()
        if name in PLAN_OPTIONS and str(value or "").strip()
    }
    options["law"] = shelf.law(options.get("law", LAW.default))
    if "calibration" in options:
        options["calibration"] = tuple(
            shelf.calibration(n) for n in calibration_names(options["calibration"])
        )
    if "model" in options:
        from scaling.model import get_preset

        options["model"] = get_preset(options["model"])
    return options


def plan_view(fields: dict[str, str], shelf: Shelf) -> PlanView:
    """The plan view: the plan, its zone and memory charts, its tables and the best layouts."""
    from scaling.cluster import Cluster
    from scaling.plan import build_plan, parse_plan_request, plan_tables

    fields = {
        k: str(v).strip() for k, v in fields.items() if k in PLAN_FIELDS and v is not None and str(v).strip()
    }
    view = PlanView(fields)
    try:
        request = parse_plan_request(**plan_options(fields, shelf))
        view.plan = build_plan(request)
    except ScalingError as exc:
        view.error, view.error_field = str(exc), error_field(str(exc), fields)
        return view
    from scaling import charts

    plan = view.plan
    view.tables = plan_tables(plan)
    view.figures["zone"] = charts.zone_figure(**plan_zone_arguments(plan))
    if plan.memory is not None:
        view.figures["memory"] = charts.memory_figure(
            {"this plan's layout": plan.memory}, title="Memory per device of the plan's layout"
        )
    view.layouts = best_layouts(
        plan, Cluster.of(plan.accelerator, plan.devices, devices_per_node=request.devices_per_node)
    )
    return view


def plan_zone_arguments(plan: Any) -> dict[str, Any]:
    """The report's zone chart for the plan (`scaling.charts.plan_report.zone_arguments`), with the interval
    band of the plan's law when it has one (Epoch AI's replication does; a fitted law with bootstrap does)."""
    from scaling.charts.plan_report import zone_arguments

    arguments = zone_arguments(plan)
    if (
        arguments["fitted"] is None
        and plan.law.optimal(plan.budget_flops).intervals.get("params") is not None
    ):
        arguments["fitted"] = plan.law
    return arguments


def best_layouts(plan: Any, cluster: Any, top: int = LAYOUTS_SHOWN) -> Any:
    """The layout search (`scaling.layout.search_layouts`) for the plan's model, batch and MFU on its
    ``cluster`` (with its devices per node)."""
    from scaling.layout import search_layouts
    from scaling.memory import Precision, Workload

    return search_layouts(
        plan.spec,
        cluster=cluster,
        workload=Workload.of(
            global_batch=max(int(plan.global_batch_tokens // plan.seq_len), 1), seq_len=plan.seq_len
        ),
        precision=Precision.of(plan.dtype),
        mfu=plan.mfu,
        top=top,
    )


def error_field(message: str, fields: dict[str, str]) -> str | None:
    """The field a library error is about: the one whose value or flag the message names."""
    for name, value in fields.items():
        if value and (f"'{value}'" in message or f'"{value}"' in message):
            return name
    for name in fields:
        if f"--{name}" in message or re.search(rf"\b{re.escape(name.replace('-', ' '))}\b", message):
            return name
    return None


# ============================================================================================ memory
@dataclass
class MemoryView:
    fields: dict[str, str]
    breakdown: Any = None
    error: str | None = None
    error_field: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)


def memory_request_of(fields: dict[str, str], configs: dict[str, Any]) -> Any:
    """The `scaling.memory.MemoryRequest` for the fields (each field's option, `MEMORY_OPTIONS`), as
    ``scaling memory`` builds it; MODEL is an uploaded config or a catalog preset."""
    from scaling.memory import memory_request
    from scaling.model import get_preset

    name = (fields.get("model") or "").strip()
    if not name:
        raise ScalingError("invalid model '': expected a preset name or an uploaded config.json")
    options = {
        MEMORY_OPTIONS[key].name: str(value).strip()
        for key, value in fields.items()
        if key in MEMORY_OPTIONS and key != "model" and str(value or "").strip()
    }
    return memory_request(model=configs[name] if name in configs else get_preset(name), **options)


def memory_view(fields: dict[str, str], configs: dict[str, Any] | None = None) -> MemoryView:
    """The memory view: `estimate_memory` for the fields, its per-term table and the stacked bar."""
    from scaling import charts

    fields = {
        k: str(v).strip()
        for k, v in fields.items()
        if k in MEMORY_FIELDS and v is not None and str(v).strip()
    }
    view = MemoryView(fields)
    try:
        view.breakdown = memory_request_of(fields, configs or {}).breakdown()
    except ScalingError as exc:
        view.error, view.error_field = str(exc), error_field(str(exc), fields)
        return view
    view.tables = view.breakdown.display_tables()
    view.figures["memory"] = charts.memory_figure({fields.get("model", "model"): view.breakdown})
    return view


def config_from_upload(data: bytes, filename: str) -> Any:
    """A Hugging Face ``config.json`` parsed as data into a `ModelSpec`."""
    from scaling.model import spec_from_hf_config

    try:
        entry = inputs.parse_json(data.decode("utf-8"), f"the config {filename!r}")
    except UnicodeDecodeError:
        raise ScalingError(f"invalid config {filename!r}: not UTF-8 text, so not JSON") from None
    if not isinstance(entry, dict):
        raise ScalingError(f"invalid config {filename!r}: expected a JSON object")
    return spec_from_hf_config(entry, name=re.sub(r"\.json$", "", filename) or "uploaded")


# ============================================================================================== runs
@dataclass
class RunsView:
    name: str
    runs: Any = None
    report: Any = None  # the `scaling.fit.FitReport` that ``scaling fit --approach all`` prints
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)

    @property
    def law(self) -> Any:
        return None if self.report is None else self.report.approach3

    @property
    def warnings(self) -> list[str]:
        return [] if self.report is None else list(self.report.warnings) + list(self.report.skipped.values())


def runs_from_upload(data: bytes, filename: str) -> Any:
    """A runs table (CSV) parsed as data into a frame; the runs-table contract reads it in `runs_view`."""
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScalingError(f"invalid runs table {filename!r}: not a CSV file ({exc})") from None


def runs_view(source: Any, name: str, *, bootstrap: int = 200) -> RunsView:
    """``scaling fit --approach all`` on a runs table or a sweep folder (Approach 1 from its curves/), with
    ``bootstrap`` resamples for Approach 3's intervals, and the IsoFLOP, frontier and diagnostics charts."""
    import warnings

    from scaling import charts
    from scaling.fit import fit_runs, read_runs

    view = RunsView(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the report keeps every warning; the page lists them
            view.report = fit_runs(source, approach="all", bootstrap=bootstrap, name=name)
            view.runs = read_runs(source)
    except ScalingError as exc:
        view.error = str(exc)
        return view
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if view.report.approach2 is not None:
            view.figures["isoflop"] = charts.isoflop_figure(view.runs, view.report.approach2)
        if view.law is not None:
            view.figures["frontier"] = charts.frontier_figure(view.runs, view.law)
            view.figures["diagnostics"] = charts.diagnostics_figure(view.runs, view.law)
    view.tables = view.report.display_tables()  # the tables `scaling fit` prints
    return view
