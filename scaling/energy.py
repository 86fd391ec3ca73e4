"""Energy, emissions and goodput of a training run: `footprint`.

Energy is the device-hours the run holds times each device's board power (the catalog's TDP column, with
its source) times the data centre's PUE; emissions are that energy times the grid's carbon intensity. This
is the accounting of the LLaMA and Llama 2 papers (Touvron et al. 2023a §6; 2023b §2.2.1 and Table 2) and of
the Llama 3.1 model card (GPU-hours x TDP). It leaves out the hosts, the network and the storage, and counts
every device at its TDP for every hour (real draw is lower): an upper estimate of the accelerators alone.

Goodput is the fraction of wall-clock time that trains. Interruptions, restarts and lost steps make a run
hold its devices for longer than its FLOPs need: Llama 3 405B trained more than 90% of a 54-day snapshot
through 466 interruptions (Llama Team 2024, §3.3.4); PaLM 540B's MFU is stated without downtime (Chowdhery et
al. 2022, App. B). The wall clock is the productive time / goodput, and energy counts the devices held.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scaling.catalog import Accelerator
from scaling.checks import fraction, positive
from scaling.errors import ScalingError
from scaling.units import SECONDS_PER_DAY, format_duration

# Touvron et al. 2023a (LLaMA) §6 and 2023b (Llama 2) §2.2.1: "we set PUE at 1.1"
DEFAULT_PUE = 1.1
# US national average carbon intensity, 0.385 kg CO2eq per kWh: the factor of Touvron et al. 2023a §6, whose
# Llama 2 Table 2 figures it reproduces (7B: 184,320 GPU-hours x 400 W x 1.1 x 0.385 = 31.22 tCO2eq)
DEFAULT_GRID_GCO2_KWH = 385.0
DEFAULT_GOODPUT = 1.0  # no downtime assumed unless given (Llama 3: above 0.9 over 54 days, §3.3.4)
GRID_SOURCE = "US national average, 0.385 kg CO2eq/kWh (Touvron et al. 2023a, LLaMA §6)"
PUE_SOURCE = "PUE 1.1 (Touvron et al. 2023a §6; Llama 2 §2.2.1)"


@dataclass(frozen=True)
class Footprint:
    """Wall clock, energy and emissions of ``device_hours`` of training at ``goodput``."""

    accelerator: str
    device_hours: float  # productive device-hours: the FLOPs' time
    goodput: float
    wall_seconds: float
    held_device_hours: float  # device_hours / goodput
    power_w: float | None
    power_source: str
    pue: float
    grid_gco2_kwh: float
    energy_kwh: float | None
    co2_kg: float | None

    @property
    def wall_days(self) -> float:
        return self.wall_seconds / SECONDS_PER_DAY

    def assumptions(self) -> list[str]:
        power = (
            f"{self.power_w:g} W per {self.accelerator} ({self.power_source})"
            if self.power_w
            else f"no power figure for {self.accelerator}: add tdp_w to an --accelerator-file row"
        )
        pue = PUE_SOURCE if self.pue == DEFAULT_PUE else f"PUE {self.pue:g} (given)"
        grid = (
            GRID_SOURCE
            if self.grid_gco2_kwh == DEFAULT_GRID_GCO2_KWH
            else f"{self.grid_gco2_kwh:g} gCO2eq/kWh (given)"
        )
        return [
            f"energy = device-hours held x board power x PUE: {power}; {pue}",
            f"emissions = energy x grid intensity: {grid}",
            f"goodput {self.goodput:.0%}: wall clock = training time / goodput"
            + (" (no downtime assumed; --goodput 0.9 for Llama 3's >90%)" if self.goodput == 1.0 else ""),
        ]

    def lines(self) -> list[tuple[str, str]]:
        """The label/value lines every face prints (flops, plan, finetune)."""
        out = []
        if self.goodput < 1.0:
            out.append(
                (
                    "wall-clock with downtime",
                    f"{format_duration(self.wall_seconds)} at goodput {self.goodput:.0%}",
                )
            )
        if self.energy_kwh is None:
            return [*out, ("energy", f"n/a: no power figure (TDP) for {self.accelerator} in the catalog")]
        return [
            *out,
            (
                "energy",
                f"{_kwh(self.energy_kwh)} ({self.held_device_hours:,.0f} device-hours x {self.power_w:g} W "
                f"x PUE {self.pue:g})",
            ),
            ("emissions", f"{_co2(self.co2_kg)} CO2eq at {self.grid_gco2_kwh:g} gCO2eq/kWh"),
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kwh(value: float) -> str:
    for scale, unit in ((1e6, "GWh"), (1e3, "MWh")):
        if value >= scale:
            return f"{value / scale:,.3g} {unit}"
    return f"{value:,.3g} kWh"


def _co2(kg: float) -> str:
    return f"{kg / 1000:,.2f} t" if kg >= 1000 else f"{kg:,.3g} kg"


def footprint(
    accelerator: Accelerator,
    *,
    device_hours: float,
    seconds: float,
    goodput: float = DEFAULT_GOODPUT,
    pue: float = DEFAULT_PUE,
    grid_gco2_kwh: float = DEFAULT_GRID_GCO2_KWH,
) -> Footprint:
    """The footprint of a run whose FLOPs take ``seconds`` (``device_hours`` in all) on ``accelerator``s."""
    goodput = fraction(goodput, "--goodput")
    pue = float(positive(pue, "--pue"))
    if pue < 1.0:
        raise ScalingError(f"invalid --pue {pue:g}: a data centre's PUE is at least 1 (1.1 is typical)")
    grid = float(positive(grid_gco2_kwh, "--grid-gco2-kwh", allow_zero=True))
    held = float(device_hours) / goodput
    power = accelerator.tdp_watts
    energy = None if power is None else held * power / 1000.0 * pue
    return Footprint(
        accelerator=accelerator.name,
        device_hours=float(device_hours),
        goodput=goodput,
        wall_seconds=float(seconds) / goodput,
        held_device_hours=held,
        power_w=power,
        power_source=accelerator.tdp_source or "catalog",
        pue=pue,
        grid_gco2_kwh=grid,
        energy_kwh=energy,
        co2_kg=None if energy is None else energy * grid / 1000.0,
    )
