"""Where a run runs: `Cluster`, an accelerator, a device count, devices per node and the links between them.

One value for every face: ``scaling plan --gpus 512xH100``, ``scaling memory --gpus 64x8xA100-40GB`` (64
nodes of 8), the layout search, fine-tuning and serving all read the same `Cluster`. `parse_cluster` turns
the written forms into one, looking the accelerator up in the catalog; the accelerator may be left out
(``--gpus 64``: a device count for the memory estimate), and the commands that need one say so.

Bandwidths (bytes/s per device, one direction) are the accelerator's catalog links (`Accelerator.
intra_node_bytes_per_s`, ``inter_node_bytes_per_s``) unless given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError

DEVICES_PER_NODE = 8  # DGX/HGX nodes
MAX_DEVICES = 10**8  # more than any cluster built; keeps device arithmetic exact in float64
_ACCEPTED = "a cluster such as 64xH100, 8x8xA100-80GB (nodes x devices per node), H100*64 or 64"


def device_count(value: Any, what: str = "device count") -> int:
    """A whole number of devices, at least 1 and at most `MAX_DEVICES`."""
    return int(
        checks.at_most(checks.positive_int(value, what), MAX_DEVICES, what, "more than any cluster built")
    )


@dataclass(frozen=True)
class Cluster:
    """``devices`` accelerators (``accelerator`` None when only a count was given), ``devices_per_node`` to a
    node when stated (``64x8xA100-40GB``; otherwise a full node of `DEVICES_PER_NODE`), and the links between
    them when given. Build one with `Cluster.of` or `parse_cluster`, which check the numbers; ``text`` is the
    cluster as written (``8xH100``), for messages and the JSON, and takes no part in comparisons."""

    accelerator: Accelerator | None = None
    devices: int = 1
    devices_per_node: int | None = None
    intra_node_bytes_per_s: float | None = None
    inter_node_bytes_per_s: float | None = None
    text: str = field(default="", compare=False, repr=False)

    @classmethod
    def of(
        cls,
        accelerator: str | Accelerator | None,
        devices: Any = 1,
        *,
        devices_per_node: Any = None,
        intra_node_bytes_per_s: float | None = None,
        inter_node_bytes_per_s: float | None = None,
        accelerator_files: tuple[str, ...] = (),
        text: str = "",
    ) -> Cluster:
        def rate(value: float | None, what: str) -> float | None:
            return None if value is None else float(checks.positive(value, what))

        return cls(
            accelerator=None
            if accelerator is None
            else get_accelerator(accelerator, tuple(accelerator_files)),
            devices=device_count(devices),
            devices_per_node=None
            if devices_per_node is None
            else device_count(devices_per_node, "devices per node"),
            intra_node_bytes_per_s=rate(intra_node_bytes_per_s, "intra-node bandwidth"),
            inter_node_bytes_per_s=rate(inter_node_bytes_per_s, "inter-node bandwidth"),
            text=text,
        )

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.accelerator is None:
            return str(self.devices)
        if self.devices_per_node:
            return f"{self.devices // self.devices_per_node}x{self.devices_per_node}x{self.accelerator.name}"
        return f"{self.devices}x{self.accelerator.name}"

    @property
    def node(self) -> int:
        """Devices in one node of this cluster (all of them when fewer than a node)."""
        return min(self.devices, self.devices_per_node or DEVICES_PER_NODE)

    @property
    def intra(self) -> float:
        """Bandwidth between devices of a node, bytes/s per device: as given, else the catalog's link."""
        return self.intra_node_bytes_per_s or self._named().intra_node_bytes_per_s

    @property
    def inter(self) -> float:
        """Bandwidth to other nodes, bytes/s per device: as given, else the catalog's network."""
        return self.inter_node_bytes_per_s or self._named().inter_node_bytes_per_s

    @property
    def link(self) -> str:
        """The intra-node link's name (NVLink4, PCIe4, ...), or "given" when its bandwidth was given."""
        return "given" if self.intra_node_bytes_per_s else self._named().intra_node_link

    def _named(self) -> Accelerator:
        if self.accelerator is None:
            raise ScalingError(f"cluster {self} names no accelerator: write it as e.g. {self.devices}xH100")
        return self.accelerator


def parse_cluster(value: object, what: str = "cluster", accelerator_files: tuple[str, ...] = ()) -> Cluster:
    """Parse ``64xH100``, ``8x8xA100-80GB`` (8 nodes of 8), ``8×H100``, ``H100*64``, ``H100`` (one device) or
    ``64`` (no accelerator); a `Cluster` passes through. The accelerator is looked up in the catalog and in
    ``accelerator_files``."""
    if isinstance(value, Cluster):
        return value
    devices, name, nodes = _cluster_parts(value, what)
    text = (
        str(devices)
        if name is None
        else (f"{nodes}x{devices // nodes}x{name}" if nodes else f"{devices}x{name}")
    )
    return Cluster.of(
        name,
        devices,
        devices_per_node=devices // nodes if nodes else None,
        accelerator_files=accelerator_files,
        text=text,
    )


def _cluster_parts(value: object, what: str) -> tuple[int, str | None, int | None]:
    """(devices, accelerator name as written or None, nodes or None) of a written cluster."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ScalingError(f"invalid {what} {value!r}: expected {_ACCEPTED}")
        return value, None, None
    text = str(value).strip().replace("×", "x").replace(" ", "")
    if not text:
        raise ScalingError(f"invalid {what} {value!r}: expected {_ACCEPTED}")
    star = re.match(r"^([A-Za-z][\w.\-]*)\*(\d+)$", text)
    if star:
        text = f"{star.group(2)}x{star.group(1)}"
    parts = re.match(r"^(\d+)(?:[xX](\d+))?(?:[xX]([A-Za-z][\w.\-]*))?$", text)
    if parts:
        second, name = parts.group(2), parts.group(3)
        first = checks.digits(parts.group(1), what, _ACCEPTED)
        per_node = checks.digits(second, what, _ACCEPTED) if second else 1
        if first is None or per_node is None or (second is not None and name is None):
            raise ScalingError(f"invalid {what} {value!r}: expected {_ACCEPTED}")
        devices = first * per_node
        if devices <= 0:
            raise ScalingError(f"invalid {what} {value!r}: the device count must be at least 1")
        return devices, name, first if second else None
    if re.match(r"^[A-Za-z][\w.\-]*$", text):
        return 1, text, None
    raise ScalingError(f"invalid {what} {value!r}: expected {_ACCEPTED}")
