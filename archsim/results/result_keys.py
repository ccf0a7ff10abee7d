"""The keys of the result JSON objects (`archsim run` and `archsim op --format json`), so that
a metric path a sweep or a validation case names can be checked before anything runs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

SCENARIO_KEYS = ("batch", "input_len", "output_len", "precision")


@dataclass(frozen=True)
class ResultKeys:
    """The keys a result JSON object is known to have, so a metric path can be checked before
    anything runs. `fixed`: key -> its sub-keys (None for a number); `named`: key -> the keys
    under each of its named entries (breakdown.<component>.seconds); `open`: keys whose
    contents depend on the run (only a result can tell a path under them); `optional`: sub-keys
    of a fixed key that some machines' results add."""

    fixed: dict
    named: dict = field(default_factory=dict)
    open: tuple = ()
    optional: dict = field(default_factory=dict)

    def problem(self, path: str) -> str | None:
        """Why `path` is not a metric of this result (with the nearest valid names), or None."""
        head, *rest = path.split(".")
        if head in self.open:
            return None if rest else f"{head!r} is a group of values; name one inside it"
        if head in self.named:
            if len(rest) == 2 and rest[1] in self.named[head]:
                return None
            name = rest[0] if rest else "<name>"
            valid = [f"{head}.{name}.{k}" for k in self.named[head]]
        elif head in self.fixed:
            subs = self.fixed[head]
            if subs is not None:
                subs = (*subs, *self.optional.get(head, ()))
            if (subs is None and not rest) or (subs is not None and len(rest) == 1 and rest[0] in subs):
                return None
            valid = [head] if subs is None else [f"{head}.{k}" for k in subs]
        else:
            heads = [*self.fixed, *self.named, *self.open]
            close = difflib.get_close_matches(head, heads, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"{path!r} is not a key of the result{hint}; it starts with one of {', '.join(heads)}"
        close = difflib.get_close_matches(path, valid, n=3, cutoff=0.5) or valid
        return f"{path!r} is not a key of the result; nearest valid names: {', '.join(close)}"


# `archsim run --format json` (archsim.system.simulate.run_trace); component and op names, the
# run's stats and its provenance depend on the machine and the model
RUN_RESULT = ResultKeys(
    fixed={"arch": None, "model": None, "fidelity": None, "ttft_s": None, "tpot_s": None,
           "scenario": SCENARIO_KEYS, "prefill": ("seconds", "cycles", "tokens_per_s", "energy_j"),
           "decode": ("seconds", "seconds_per_token", "tokens_per_s", "energy_j", "energy_j_per_token"),
           "end_to_end": ("seconds", "tokens_per_s"),
           "capacity": ("weights_bytes", "kv_bytes_per_token", "max_decode_tokens")},
    # where the machine stores more per token than the model's (kv_stored_...) or places the
    # model on a wafer (the rest); NaN elsewhere
    optional={"capacity": ("kv_stored_bytes_per_token", "kv_cache", "decode_grid", "max_tokens_by_bytes",
                           "placed_weights_bytes", "kv_bytes_per_token_placed", "usable_cores",
                           "decode_regions", "decode_busy_fraction", "prefill_regions")},
    named={"breakdown": ("seconds", "energy_j", "bytes", "jobs"), "ops": ("seconds", "energy_j", "flops", "bytes")},
    open=("stats", "provenance"))

# `archsim op --format json` (archsim.api.run_op); its breakdown's names depend on the machine
OP_RESULT = ResultKeys(fixed={k: None for k in ("arch", "op", "m", "k", "n", "precision", "fidelity", "seconds",
                                                "cycles", "energy_j")}, open=("breakdown",))
