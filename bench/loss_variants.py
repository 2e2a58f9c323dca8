"""A candidate chunk body for `trigger_nb.adaptive_loss._fused_chunks`, and a micro-benchmark against the current one.

    .venv/bin/python bench/loss_variants.py            # time: tiny head (V=998, H=128) and Qwen2.5-0.5B head (V=151936, H=896)
    .venv/bin/python bench/loss_variants.py --memory   # peak memory of loss + backward, 0.5B head
    .venv/bin/python bench/loss_variants.py --ranks    # ways to count the ranks of one chunk
    .venv/bin/python bench/loss_variants.py --profile  # where the current loss + backward spends its time, 0.5B head

The candidate computes the same loss, ranks, extra weights and gradients with fewer passes over each chunk of
logits (profile in RESULTS.md):

- ranks are counted into int32 (`sum(-1, dtype=torch.int32)`), 32 rows at a time: on CPU, summing the bool
  comparison into the default int64 first converts the whole chunk to int64 (255 MiB for a default 220-row chunk of
  a 151,936 vocabulary, twice the fp32 chunk the design allows; it costs as much as the chunk's matmul on the tiny
  model); in int32 over 32-row slices the temporaries are 38 MiB and the count is 2x faster;
- one exponential instead of two: `logsumexp` and then `exp(z - lse)` both exponentiate the chunk; the candidate
  takes the row max, exponentiates once, and reuses the row sums for the log-sum-exp and the softmax;
- the per-row weight and the softmax normalisation are one multiply, w / s, instead of a divide and a multiply;
- (`backward_in_place`) the backward scales the saved gradients in place instead of allocating scaled copies: the
  copy of the (V x H) fp32 head gradient is what sets the loss's own peak memory.

It is used only by this benchmark (`--loss candidate` in train_worker.py) to show what the change would buy; the
library is changed in nbs/03_adaptive_loss.ipynb.
"""
import sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


RANK_ROWS = 32  # rows whose ranks are counted at once: the comparison's temporaries stay at 32 x V


def fused_chunks_candidate(h, weight, bias, targets, flags, top_k, ce_weight, n_items, chunk_size, adaptive,
                           grad_h, grad_w, grad_b):
    "Same contract as trigger_nb.adaptive_loss._fused_chunks, fewer passes per chunk."
    from trigger_nb.adaptive_loss import selective_weight
    n, V = len(h), len(weight)
    loss = torch.zeros((), dtype=torch.float32, device=h.device)
    ranks = torch.zeros(n, dtype=torch.long, device=h.device)
    extra = torch.zeros(n, dtype=torch.float32, device=h.device)
    gh = torch.empty_like(h) if grad_h else None
    gw = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if grad_w else None
    gb = torch.zeros(V, dtype=torch.float32, device=bias.device) if grad_b else None
    for a in range(0, n, chunk_size):
        rows = slice(a, a + chunk_size)
        hc, y = h[rows].to(weight.dtype), targets[rows]
        z = (hc @ weight.T).float()
        if bias is not None: z += bias.float()
        zy = z.gather(1, y[:, None]).squeeze(1)
        if adaptive:
            r = ranks[rows]
            for b in range(0, len(y), RANK_ROWS):  # count in int32 over a few rows at a time: no chunk-sized temp
                r[b:b + RANK_ROWS] = (z[b:b + RANK_ROWS] > zy[b:b + RANK_ROWS, None]).sum(-1, dtype=torch.int32)
            extra[rows] = selective_weight(r, flags[rows], top_k)
        w = (ce_weight + extra[rows]) / n_items
        m = z.amax(-1)
        e = z.sub_(m[:, None]).exp_()                    # the only exponential of the chunk
        s = e.sum(-1)
        loss += (w * (m + s.log() - zy)).sum()
        if not (grad_h or grad_w or grad_b): continue
        dz = e.mul_((w / s)[:, None])                   # w * softmax
        dz[torch.arange(len(y), device=dz.device), y] -= w  # minus w at the target: dL/dz for this chunk
        if grad_b: gb += dz.sum(0)
        dz = dz.to(weight.dtype)
        if grad_h: gh[rows] = dz @ weight
        if grad_w:
            if gw.dtype == dz.dtype: gw.addmm_(dz.T, hc)
            else: gw += dz.T @ hc
        del z, dz, e
    return (loss, ranks, extra, gh, None if gw is None else gw.to(weight.dtype),
            None if gb is None else gb.to(bias.dtype))


def backward_in_place(ctx, grad_loss, _grad_ranks, _grad_extra):
    "Candidate `_FusedAdaptiveCE.backward`: scale the saved gradients in place (they are used once) instead of copying."
    scaled = [None if g is None else g.mul_(grad_loss) for g in ctx.saved_tensors]
    return *scaled, None, None, None, None, None, None, None


def use_candidate(backward=True):
    "Swap the candidate chunk body (and backward) into trigger_nb.adaptive_loss for this process (benchmark only)."
    import trigger_nb.adaptive_loss as al
    al._fused_chunks = fused_chunks_candidate
    if backward: al._FusedAdaptiveCE.backward = staticmethod(backward_in_place)


def _case(B, T, H, V, device="cpu", dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    hid = torch.randn(B, T, H, generator=g).to(device, dtype).requires_grad_()
    W = (torch.randn(V, H, generator=g) * 0.05).to(device, dtype).requires_grad_()
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[:, : T // 2] = -100
    return hid, W, labels.to(device), torch.full((B, T), 3, device=device)


def compare(B, T, H, V, reps, device="cpu"):
    "Median time of loss+backward, current vs candidate, adaptive and ce, interleaved; and a check they agree."
    import trigger_nb.adaptive_loss as al
    current, current_backward = al._fused_chunks, al._FusedAdaptiveCE.backward
    hid, W, labels, styles = _case(B, T, H, V, device)

    def run(impl, adaptive):
        al._fused_chunks = impl
        al._FusedAdaptiveCE.backward = current_backward if impl is current else staticmethod(backward_in_place)
        hid.grad = W.grad = None
        if device == "cuda": torch.cuda.synchronize()
        t = time.perf_counter()
        loss, stats = al.adaptive_loss_from_hidden(hid, W, labels, styles, adaptive=adaptive)
        loss.backward()
        if device == "cuda": torch.cuda.synchronize()
        return time.perf_counter() - t, loss.detach(), stats, hid.grad.clone(), W.grad.clone()

    out = {}
    for adaptive in (True, False):
        a, b = run(current, adaptive), run(fused_chunks_candidate, adaptive)
        assert a[2] == b[2], (a[2], b[2])
        torch.testing.assert_close(a[1], b[1], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a[3], b[3], rtol=1e-3, atol=1e-6)
        torch.testing.assert_close(a[4], b[4], rtol=1e-3, atol=1e-6)
        ta, tb = [], []
        for _ in range(reps):
            ta.append(run(current, adaptive)[0]); tb.append(run(fused_chunks_candidate, adaptive)[0])
        from common import median
        out["adaptive" if adaptive else "ce"] = (median(ta), median(tb))
    al._fused_chunks, al._FusedAdaptiveCE.backward = current, current_backward
    return out


def loss_peak(impl, mode, device):
    "Peak memory over the baseline of one loss + backward at the 0.5B head shape (run in a fresh process)."
    from common import peak_rss_mib, reset_peak_rss, rss_mib
    import trigger_nb.adaptive_loss as al
    if impl == "candidate": use_candidate()
    hid, W, labels, styles = _case(1, 512, 896, 151936, device)
    run = lambda: al.adaptive_loss_from_hidden(hid, W, labels, styles, adaptive=mode == "adaptive")[0].backward()
    run(); hid.grad = W.grad = None  # warm
    if device == "cuda":
        torch.cuda.synchronize(); base = torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()
        run(); torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    base = rss_mib(); reset_peak_rss()
    run()
    return peak_rss_mib() - base


def rank_ways(reps=7, top_k=8):
    "Time and temporary memory of ways to get the ranks of one chunk (CPU), next to the chunk's logits matmul."
    from common import median, peak_rss_mib, reset_peak_rss, rss_mib
    print("| chunk (rows x V), head H | way | time ms | temporary memory MiB |\n|---|---|---|---|")
    for n, V, H in ((946, 998, 128), (220, 151936, 896)):  # tiny: all rows of a batch; 0.5B: one default chunk
        g = torch.Generator().manual_seed(0)
        z = torch.randn(n, V, generator=g); zy = z[:, 0].clone()
        h, W = torch.randn(n, H, generator=g), torch.randn(V, H, generator=g)
        def sliced(step=32):
            out = torch.empty(n, dtype=torch.int32)
            for a in range(0, n, step): out[a:a + step] = (z[a:a + step] > zy[a:a + step, None]).sum(-1, dtype=torch.int32)
            return out
        ways = {"`(z > zy[:, None]).sum(-1)` (now)": lambda: (z > zy[:, None]).sum(-1),
                "`.sum(-1, dtype=torch.int32)`": lambda: (z > zy[:, None]).sum(-1, dtype=torch.int32),
                "int32, 32 rows at a time": sliced,
                "`amax` and `topk(top_k)` (categories only)": lambda: (z.topk(top_k, -1).values[:, -1] > zy, z.amax(-1) > zy),
                "(reference: the chunk's logits matmul `h @ W.T`)": lambda: h @ W.T}
        assert torch.equal(sliced().long(), (z > zy[:, None]).sum(-1))
        for name, f in ways.items():
            f(); base = rss_mib(); reset_peak_rss(); f(); mem = peak_rss_mib() - base
            ts = []
            for _ in range(reps):
                t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
            print(f"| {n} x {V}, H={H} | {name} | {median(ts) * 1e3:.1f} | {mem:.0f} |", flush=True)


def main():
    import argparse, subprocess
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--memory", action="store_true", help="peak memory of loss + backward, current vs candidate, 0.5B head")
    p.add_argument("--ranks", action="store_true", help="time and memory of ways to count ranks (CPU)")
    p.add_argument("--profile", action="store_true", help="torch.profiler table of the current loss + backward, 0.5B head")
    p.add_argument("--one", nargs=2, metavar=("IMPL", "MODE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(f"{loss_peak(*a.one, a.device):.0f}"); return
    if a.ranks:
        rank_ways(); return
    if a.profile:
        import trigger_nb.adaptive_loss as al
        hid, W, labels, styles = _case(1, 512, 896, 151936, a.device)
        for mode in ("adaptive", "ce"):
            run = lambda: al.adaptive_loss_from_hidden(hid, W, labels, styles, adaptive=mode == "adaptive")[0].backward()
            run()
            with torch.profiler.profile() as prof: run()
            print(f"\n{mode}\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
        return
    if a.memory:
        print("| chunk body + backward | loss | peak memory over baseline during loss + backward, MiB |\n|---|---|---|")
        for impl in ("library", "candidate"):
            for mode in ("adaptive", "ce"):
                r = subprocess.run([sys.executable, __file__, "--device", a.device, "--one", impl, mode],
                                   capture_output=True, text=True, check=True)
                print(f"| {impl} | {mode} | {r.stdout.split()[-1]} |", flush=True)
        return
    cases = [("tiny head, 8 rows x 190 tokens", 8, 190, 128, 998, 15),
             ("Qwen2.5-0.5B head, 1 row x 512 tokens", 1, 512, 896, 151936, 5)]
    print("| loss + backward | current adaptive ms | current ce ms | current adaptive/ce | candidate adaptive ms | "
          "candidate ce ms | candidate adaptive/ce | candidate/current (adaptive) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, B, T, H, V, reps in cases:
        r = compare(B, T, H, V, reps, a.device)
        (ca, na), (cc, nc) = r["adaptive"], r["ce"]
        print(f"| {name} | {ca*1e3:.1f} | {cc*1e3:.1f} | {ca/cc:.2f} | {na*1e3:.1f} | {nc*1e3:.1f} | {na/nc:.2f} | {na/ca:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
