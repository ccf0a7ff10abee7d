"""A GPU-to-GPU interconnect running collectives (type: link), e.g. NVLink through NVSwitch.

Ring collectives over `ranks` GPUs on a message of S bytes per GPU (NCCL's ring algorithm):

    allreduce      2(p-1) steps, each GPU sends 2(p-1)/p * S:  base + 2(p-1)*step + 2(p-1)/p * S / bw
    allgather,     (p-1) steps, (p-1)/p * S each
    reducescatter
    transfer       one point-to-point message:                 base + step + S / bw

`bandwidth` is one GPU's injection bandwidth in one direction; `base_latency` and
`step_latency` are the per-collective and per-ring-step latencies (NCCL's own tuning model
for NVLink, named in the arch YAML). Energy: pJ per byte on the wire. The job's message size
is its bytes_read; the ranks come from the job (`ranks` hint) or the component's `ranks`.
"""

from __future__ import annotations

from archsim.components.base import Component, Cost, Job, register
from archsim.config.schema import Field

STEPS = {"allreduce": lambda p: 2 * (p - 1), "allgather": lambda p: p - 1,
         "reducescatter": lambda p: p - 1, "transfer": lambda p: 1}
# bytes each GPU sends, as a multiple of the message size
VOLUME = {"allreduce": lambda p: 2.0 * (p - 1) / p, "allgather": lambda p: (p - 1) / p,
          "reducescatter": lambda p: (p - 1) / p, "transfer": lambda p: 1.0}


@register
class Link(Component):
    type_name = "link"
    schema = {
        "ranks": Field("int", 2, "GPUs on the link (used when a job does not say; "
                       "under tensor_parallel it must equal mapping.tp)"),
        "bandwidth": Field("bandwidth", doc="per-GPU bandwidth in one direction"),
        "base_latency": Field("time", doc="fixed latency of one collective"),
        "step_latency": Field("time", doc="latency of one ring step (one hop)"),
        "clock": Field("frequency", 1e9, "clock the cycle counts are reported in"),
        "energy_per_byte": Field("energy", doc="dynamic energy per byte on the wire"),
        "static_power": Field("power", 0.0, "idle power of the switches and links", min=0),
    }

    def roofs(self) -> tuple[list, list]:
        return [(f"{self.name}.bandwidth", self.params["bandwidth"])], []

    @property
    def static_power_w(self) -> float:
        return self.params["static_power"]

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        if fidelity not in ("cycle", "analytic"):
            raise ValueError(f"unknown fidelity {fidelity!r}")
        if job.kind not in STEPS:
            raise self.unsupported(job)
        p = self.params
        ranks = int(job.get("ranks", p["ranks"]))
        size = float(job.bytes_read + job.bytes_written)
        if ranks < 2 and job.kind != "transfer":
            return Cost(0.0, 0, 0.0, 0.0, {"compute": 0.0, "memory": 0.0, "overhead": 0.0})
        wire = VOLUME[job.kind](ranks) * size           # bytes one GPU sends
        latency = p["base_latency"] + STEPS[job.kind](ranks) * p["step_latency"]
        transfer = wire / p["bandwidth"]
        seconds = latency + transfer
        total = wire * max(ranks, 1)                      # bytes on all wires
        return Cost(seconds, int(round(seconds * p["clock"])), total * p["energy_per_byte"] * 1e12, total,
                    {"compute": 0.0, "memory": transfer, "overhead": latency})
