"""`computational_ssd`: a NAND flash SSD with an attention engine at its controller
(InstInfer / InstAttention, HPCA 2025).

The KV cache lives in the flash, laid out as the paper's token-indexed groups: `group_tokens`
consecutive tokens of one head's K (or V) in one `group_bytes` unit (16 tokens x 128 x FP16 =
4 KB); the groups of a head follow each other inside a physical page, and heads are spread
over the channels. Decode attention runs in the drive:
  attention_qk   reads K, the engine's GEMV units form q.K^T
  softmax        on the engine
  attention_av   reads V, the engine forms p.V
The engine consumes groups as the channels deliver them (time = max(flash, engine) plus the
first group's latency).

Attention modes:
  dense   every group of every head is read (the paper's InstA).
  sparf   SparF attention (InstA-SparF, compression `compression`): the top-r channels of q
          pick K columns from the channel-indexed copy of K (`channels_per_group` channels per
          group: a group is read if any of its channels is picked), the approximate scores
          pick the top-k tokens, and the token-indexed K and V groups holding them are read;
          the paper reports that this first, group-level step keeps about half of the groups
          (`group_retention`). r = head_dim x compression (SparQ's split of the budget).
          Retained groups are scattered: a page is sensed when it holds any (kept
          independently, a 16 KB page of four 4 KB groups at half retention: 15/16 of the
          pages), then only the kept groups cross the bus.
          `channels_per_group: auto` follows the paper's sizing: a 2048-entry page holds 2-8
          channels x 1K-256 tokens, 2 channels x 1K tokens for long contexts and 8 x 256 for
          short ones, so the fewest channels whose tokens per page do not exceed the context.
          The NFC filters then pass only the picked channels and tokens to the engine; the
          flash reads whole groups, so only the group-level step shows in the bytes read.
write  KV of new tokens (prefill: the prompt's; decode: one token), programmed in pages; under
       sparf K is programmed twice (token- and channel-indexed), `k_bytes` in the job's extra.
       With the write buffer the staged pages are programmed as one stream (`_staged_write`).
Write buffer (`write_buffer`): new tokens gather in the controller DRAM until a group of
`group_tokens` is full (the paper's Fig. 11), so a decode step reads only the context's complete
groups from the flash; the rest (at most group_tokens - 1 tokens and the current one) comes from
DRAM, untimed.
Cost.bytes: KV bytes read from (or written to) the flash; breakdown: channel bytes,
channel utilisation, engine seconds.
"""

from __future__ import annotations

import dataclasses
import math

from archsim.components.base import Cost, Job, register
from archsim.components.flash.component import NandFlash
from archsim.components.flash.compute import page_bus_s
from archsim.config.schema import Field, validate
from archsim.errors import ConfigError

ENGINE_SCHEMA = {
    "gemv_flops": Field("flops", 13.3e9, "one GeMV unit's throughput"),
    "gemv_units": Field("int", 2, "GeMV units working in parallel (two attention kernels)"),
    "softmax_flops": Field("flops", 13.3e9, "softmax throughput (streamed beside the GeMV units)"),
    "group_latency": Field("time", 0.32e-6, "engine latency of one group (pipeline fill)", min=0),
    "energy_per_flop": Field("energy", 1e-12, "engine energy per FLOP (J)", min=0),
}
KV_SCHEMA = {
    "group_tokens": Field("any", "auto", "tokens of one head per group: auto (as many as group_bytes "
                          "holds: 16 x 128 x FP16 = 4 KB) or a count with group_tokens x head_dim x bytes "
                          "<= group_bytes"),
    "group_bytes": Field("bytes", 4096.0, "bytes of one group (a flash page in the paper)"),
    "attention": Field("str", "dense", "dense | sparf", choices=("dense", "sparf")),
    "compression": Field("float", 0.125, "SparF/SparQ compression ratio", gt=0, max=1),
    "group_retention": Field("float", 0.5, "share of token groups the group-level step keeps", gt=0, max=1),
    "write_buffer": Field("bool", True, "new tokens' K/V wait in controller DRAM until a group is full; "
                          "the engine reads the incomplete group from DRAM"),
    "channels_per_group": Field("any", "auto", "head channels per channel-indexed group: a divisor of the "
                                "head dimension (the paper: 2-8), or auto (the fewest whose tokens per group "
                                "fit the context, as the paper sizes them)"),
}


# the dies compute nothing in a computational SSD (the engine sits at the controller): the
# in-flash GEMV's sections are not part of that type, so a config that sets them is refused
DIE_COMPUTE = ("compute", "ecc", "slicing", "tiling")


@register
class ComputationalSSD(NandFlash):
    """A computational SSD: NAND flash holding the KV cache plus an attention engine."""

    type_name = "computational_ssd"
    schema = {**{k: v for k, v in NandFlash.schema.items() if k not in DIE_COMPUTE},
              "engine": ENGINE_SCHEMA, "kv": KV_SCHEMA,
              "dram": Field("bytes", 2 * 2.0 ** 30, "controller DRAM (KV write buffer, mapping tables; "
                            "it must hold every layer's incomplete KV groups at once)")}

    def __init__(self, name, params, file=None):
        die = {k: validate({}, NandFlash.schema[k], file, f"{name}.{k}") for k in DIE_COMPUTE}
        die["compute"]["enabled"] = False
        super().__init__(name, {**params, **die}, file)
        kv = params["kv"]
        if kv["group_bytes"] > self.spec.page_size:
            raise ConfigError("a KV group must fit in a page", file, f"{name}.kv.group_bytes")
        for key in ("channels_per_group", "group_tokens"):
            v = kv[key]
            if v != "auto" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"expected auto or a positive integer, got {v!r}", file, f"{name}.kv.{key}")

    def group_tokens(self, head_dim: int, elem: float) -> int:
        """Tokens of one head in a token-indexed group. auto: as many as `group_bytes` holds
        ([IA] Sec. IV-C: 16 tokens x 128 x FP16 = 4 KB; "for other configurations (e.g., larger
        attention head or flash page size), the group size varies accordingly")."""
        kv = self.params["kv"]
        fit = int(kv["group_bytes"] // (head_dim * elem))
        if fit == 0:
            raise ConfigError(f"a group of {kv['group_bytes']:.0f} B holds no whole token of a "
                              f"{head_dim}-channel head ({head_dim * elem:.0f} B needed)", self.file,
                              f"{self.name}.kv.group_bytes")
        g_tok = kv["group_tokens"]
        if g_tok == "auto":
            return fit
        if g_tok > fit:
            # a token-indexed group holds group_tokens whole tokens of one head
            raise ConfigError(f"{g_tok} tokens x {head_dim} channels x {elem:g} B = "
                              f"{g_tok * head_dim * elem:.0f} B do not fit a group of "
                              f"{kv['group_bytes']:.0f} B (kv.group_bytes); at most {fit} tokens fit",
                              self.file, f"{self.name}.kv.group_tokens")
        return g_tok

    def channels_per_group(self, head_dim: int, kv_len: int, elem: float) -> int:
        """Channels per channel-indexed group. auto: of the paper's 2, 4 or 8 channels, the
        fewest whose tokens per group (entries / channels) do not exceed the context."""
        kv = self.params["kv"]
        cpg = kv["channels_per_group"]
        if cpg != "auto":
            # the channel-indexed groups split a head's channels: a non-divisor would leave
            # channels in no group (and a count above head_dim would be cut to it)
            if head_dim % int(cpg):
                raise ConfigError(f"{cpg} channels per group do not divide a head's {head_dim} channels; "
                                  f"use a divisor of {head_dim} (the paper: 2-8) or auto", self.file,
                                  f"{self.name}.kv.channels_per_group")
            return int(cpg)
        entries = int(kv["group_bytes"] // elem)
        for c in (2, 4, 8):
            if entries // c <= kv_len:
                return min(c, head_dim)
        return min(8, head_dim)

    # --- what a decode attention op reads ------------------------------------------------------
    def _kv_volume(self, kind: str, streams: int, tokens: int, head_dim: int, elem: float, kv_len: int) -> tuple:
        """(groups, bytes, pages sensed) read for `tokens` tokens of each of `streams` head
        streams. `kv_len` (the whole context) sizes the channel-indexed groups. A page holds
        `per_page` consecutive groups of a head: one sense serves every group read from it."""
        kv = self.params["kv"]
        g_tok = self.group_tokens(head_dim, elem)
        groups_per_head = -(-tokens // g_tok)
        dense = streams * tokens * head_dim * elem
        if kv["attention"] == "dense":
            return streams * groups_per_head, dense, None
        per_page = max(1, int(self.spec.page_size // kv["group_bytes"]))

        def pages(groups_each: int, miss_one: float, miss_page: float) -> float:
            """Pages sensed of a head's `groups_each` groups, each read but with probability
            miss_one, a whole page's skipped with probability miss_page."""
            whole, rest = divmod(groups_each, per_page)
            return streams * (whole * (1.0 - miss_page) + (1.0 - miss_one ** rest if rest else 0.0))

        ret = kv["group_retention"]
        groups = int(math.ceil(streams * groups_per_head * ret))
        nbytes = dense * ret
        # the group-level step keeps each group independently (the paper gives only the share)
        sensed = pages(groups_per_head, 1.0 - ret, (1.0 - ret) ** per_page)
        if kind == "attention_qk":
            # channel-indexed K: a group holds `cpg` channels of `tpc` tokens; it is read when
            # one of the r = head_dim x compression chosen channels falls in it, and its page
            # (the next groups' channels of the same tokens) when one falls in any of them
            group_bytes = min(kv["group_bytes"], g_tok * head_dim * elem)
            cpg = self.channels_per_group(head_dim, kv_len, elem)
            r = max(1, int(round(head_dim * kv["compression"])))
            n_cg = max(1, head_dim // cpg)

            def miss(channels: int) -> float:
                return math.comb(head_dim - channels, r) / math.comb(head_dim, r) if head_dim - channels >= r else 0.0

            touched = n_cg * (1.0 - miss(cpg))
            tpc = max(1, int(group_bytes // (cpg * elem)))
            blocks = -(-tokens // tpc)
            groups += int(math.ceil(streams * touched * blocks))
            nbytes += streams * touched * cpg * tokens * elem
            if n_cg >= per_page:
                # a page: per_page channel groups of one token block
                sensed += blocks * pages(n_cg, miss(cpg), miss(cpg * per_page))
            else:
                # a page holds every channel of several token blocks: any pick reads it
                sensed += streams * -(-(n_cg * blocks) // per_page)
        return groups, nbytes, int(math.ceil(sensed))

    def _kv_streams(self, job: Job) -> tuple:
        """(streams, kv_len, head_dim, elem bytes, tokens per group, tokens in the flash) of an
        attention job: [IA] Sec. IV-C, Fig. 11, a new token's K, V and channel-indexed K wait in
        the controller DRAM until `group_tokens` tokens fill a group."""
        heads = int(job.get("heads", 1))
        streams = max(1, job.batch // max(heads, 1)) * int(job.get("kv_heads", heads))
        kv_len = int(job.get("kv_len", job.n if job.kind == "attention_qk" else job.k))
        head_dim = job.k if job.kind == "attention_qk" else job.n
        elem = float(job.get("kv_elem_bytes", 2.0))
        g_tok = self.group_tokens(head_dim, elem)
        in_flash = (kv_len // g_tok) * g_tok if self.params["kv"]["write_buffer"] else kv_len
        return streams, kv_len, head_dim, elem, g_tok, in_flash

    def kv_read(self, job: Job) -> dict:
        """Groups and bytes an attention job reads from the flash. Job: kind
        attention_qk|attention_av, batch = sequences x heads, kv_len / heads / kv_heads /
        kv_elem_bytes in extra, head_dim in k (qk) or n (av). Bytes are the valid data moved (a
        group's unused tail is not sent); `groups` counts page units sensed; `work` is the share
        of dense attention's FLOPs the engine does (over the whole context)."""
        kv = self.params["kv"]
        streams, kv_len, head_dim, elem, g_tok, in_flash = self._kv_streams(job)
        group_bytes = min(kv["group_bytes"], g_tok * head_dim * elem)
        # the tokens still in the DRAM buffer are read from there
        groups, nbytes, sensed = self._kv_volume(job.kind, streams, in_flash, head_dim, elem, kv_len)
        dense_all = streams * kv_len * head_dim * elem
        work = self._kv_volume(job.kind, streams, kv_len, head_dim, elem, kv_len)[1] / dense_all if kv_len else 0.0
        return {"groups": groups, "bytes": nbytes, "scattered": sensed or 0, "group_bytes": group_bytes,
                "dense_bytes": streams * in_flash * head_dim * elem, "work": work}

    def roofs(self) -> tuple[list, list]:
        bw, _ = super().roofs()
        eng = self.params["engine"]
        return bw, [(f"{self.name}.engine.fp16", eng["gemv_flops"] * eng["gemv_units"])]

    def buffered_bytes(self, job: Job) -> float:
        """Bytes of an attention_qk job's layer that wait in the controller DRAM: the tokens of
        each stream's incomplete group, K and V (and SparF's channel-indexed K)."""
        streams, kv_len, head_dim, elem, _, in_flash = self._kv_streams(job)
        copies = 3 if self.params["kv"]["attention"] == "sparf" else 2
        return float(streams * (kv_len - in_flash) * head_dim * elem * copies)

    def kv_write_bytes(self, job: Job) -> float:
        """Bytes a KV write programs: K and V, plus SparF's channel-indexed copy of K ([IA]
        Sec. IV-C: K is stored twice, token- and channel-indexed; Fig. 11 buffers and flushes
        both). `k_bytes` in extra: the K part of the job's bytes."""
        extra_k = float(job.get("k_bytes", 0.0)) if self.params["kv"]["attention"] == "sparf" else 0.0
        return float(job.bytes_written) + extra_k

    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        eng = self.params["engine"]
        if job.kind in ("attention_qk", "attention_av"):
            r = self.kv_read(job)
            if r["scattered"] and r["groups"]:
                # scattered groups: a sense per page holding any, then their valid bytes on
                # the bus (a group not yet full sends only its tokens: column-addressed reads)
                per = max(1, int(round(r["bytes"] / r["scattered"])))
                st = self.stream_seconds(r["scattered"] * per, page_bytes=per)
            else:
                st = self.stream_seconds(r["bytes"])
            flops = job.flops * r["work"]
            t_eng = flops / (eng["gemv_flops"] * eng["gemv_units"])
            secs = max(st["seconds"], t_eng) + eng["group_latency"]
            s = self.spec
            energy = st["pages"] * s.e_read_j + r["bytes"] * s.e_bus_byte_j + flops * eng["energy_per_flop"]
            util = st["channel_busy_s"] / secs if secs else 0.0
            return Cost(secs, int(round(secs * self.clock_hz)), energy * 1e12, float(r["bytes"]),
                        {"channel_bytes": float(r["bytes"]), "channel_utilisation": util,
                         "engine_s": t_eng, "flash_s": st["seconds"], "groups": r["groups"]})
        if job.kind == "softmax":
            frac = float(job.get("sparsity", 1.0))
            flops = job.flops * frac
            secs = flops / eng["softmax_flops"] + eng["group_latency"]
            return Cost(secs, int(round(secs * self.clock_hz)), flops * eng["energy_per_flop"] * 1e12, 0.0,
                        {"engine_s": secs})
        if job.kind == "write":
            job = dataclasses.replace(job, bytes_written=self.kv_write_bytes(job))
            if self.params["kv"]["write_buffer"]:
                return self._staged_write(job, fidelity)
        return super().cost(job, fidelity)

    def _staged_write(self, job: Job, fidelity: str) -> Cost:
        """A KV write the controller DRAM stages ([IA] Fig. 11): the flash programs the staged
        pages as one stream, each write's pages appended after the last one's, so the planes a
        write leaves idle take the next write's pages. A write holds the flash for its share of
        that stream: its pages over every channel at a long program stream's steady period, not
        whole rounds of the planes of its own (72 pages on 64 planes took two 450 us rounds a
        layer). A decode token's write (`buffered_tokens` g) pays 1/g of its group's pages."""
        s = self.spec
        g = int(job.get("buffered_tokens", 1))
        pages = -(-int(job.bytes_written * g) // s.page_size) / g       # a group is programmed in whole pages
        if fidelity == "analytic":
            # a channel's planes each program one page per tPROG, its bus carries one page at a time
            period = max(s.t_prog_ps / 1e12 / (s.dies_per_channel * s.planes_per_die), page_bus_s(s))
            busy = page_bus_s(s)
        else:
            period, busy = self.stream_period(write=True)
        secs = pages / s.channels * period
        energy = pages * s.e_prog_j + job.bytes_written * s.e_bus_byte_j
        return Cost(secs, int(round(secs * self.clock_hz)), energy * 1e12, float(job.bytes_written),
                    {"channel_bytes": float(job.bytes_written), "channel_utilisation": busy / period if period else 0.0,
                     "pages": pages, "buffered_tokens": g})
