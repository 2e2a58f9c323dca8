"""The adaptive loss's chunk body before the changes measured in RESULTS.md, and a micro-benchmark of it against the library's.

    .venv/bin/python bench/loss_variants.py            # time: tiny head (V=998, H=128) and Qwen2.5-0.5B head (V=151936, H=896)
    .venv/bin/python bench/loss_variants.py --memory   # peak memory of loss + backward, 0.5B head
    .venv/bin/python bench/loss_variants.py --ranks    # ways to count the ranks of one chunk
    .venv/bin/python bench/loss_variants.py --profile  # where the library's loss + backward spends its time, 0.5B head

`fused_chunks_previous` is `trigger_nb.adaptive_loss._fused_chunks` as it was before (R2-R4 in RESULTS.md), kept
here so the change can be measured again on any machine. Against it, the library now:

- counts ranks into int32 (`sum(-1, dtype=torch.int32)`), 2**22 logits at a time on CPU: summing the bool comparison
  into the default int64 first converts the whole chunk to int64 (255 MiB for a default 220-row chunk of a 151,936
  vocabulary, twice the fp32 chunk the design allows; it cost as much as the chunk's matmul on the tiny model);
- exponentiates each chunk once instead of twice (`logsumexp`, then `exp(z - lse)`): the row max, one exponential,
  and the row sums serve both the log-sum-exp and the softmax;
- makes the per-row weight and the softmax normalisation one multiply;
- starts the fp32 head gradient from the first chunk's product instead of a zero fill, and its backward scales the
  saved gradients in place instead of allocating scaled copies (the copy of the (V x H) fp32 head gradient set the
  loss's own peak memory).

`--loss-impl previous` in train_worker.py swaps the previous body into a whole training step.
"""
import sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def fused_chunks_previous(h, weight, bias, targets, flags, top_k, ce_weight, n_items, chunk_size, adaptive,
                          grad_h, grad_w, grad_b):
    "The library's chunk body before R2-R4: int64 rank counts over the whole chunk, two exponentials, a zero-filled head gradient."
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
        lse, zy = z.logsumexp(-1), z.gather(1, y[:, None]).squeeze(1)
        if adaptive:
            ranks[rows] = (z > zy[:, None]).sum(-1)
            extra[rows] = selective_weight(ranks[rows], flags[rows], top_k)
        w = (ce_weight + extra[rows]) / n_items
        loss += (w * (lse - zy)).sum()
        if not (grad_h or grad_w or grad_b): continue
        dz = z.sub_(lse[:, None]).exp_()
        dz[torch.arange(len(y), device=dz.device), y] -= 1
        dz *= w[:, None]
        if grad_b: gb += dz.sum(0)
        dz = dz.to(weight.dtype)
        if grad_h: gh[rows] = dz @ weight
        if grad_w:
            if gw.dtype == dz.dtype: gw.addmm_(dz.T, hc)
            else: gw += dz.T @ hc
        del z, dz
    return (loss, ranks, extra, gh, None if gw is None else gw.to(weight.dtype),
            None if gb is None else gb.to(bias.dtype))


def backward_previous(ctx, grad_loss, _grad_ranks, _grad_extra):
    "The previous `_FusedAdaptiveCE.backward`: scaled copies of the saved gradients."
    scaled = [None if g is None else g * grad_loss for g in ctx.saved_tensors]
    return *scaled, None, None, None, None, None, None, None


def use_previous():
    "Swap the previous chunk body and backward into trigger_nb.adaptive_loss for this process (benchmark only)."
    import trigger_nb.adaptive_loss as al
    al._fused_chunks = fused_chunks_previous
    al._FusedAdaptiveCE.backward = staticmethod(backward_previous)


def _case(B, T, H, V, device="cpu", dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    hid = torch.randn(B, T, H, generator=g).to(device, dtype).requires_grad_()
    W = (torch.randn(V, H, generator=g) * 0.05).to(device, dtype).requires_grad_()
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[:, : T // 2] = -100
    return hid, W, labels.to(device), torch.full((B, T), 3, device=device)


def compare(B, T, H, V, reps, device="cpu"):
    "Median time of loss+backward, previous vs library, adaptive and ce, interleaved; and a check they agree."
    import trigger_nb.adaptive_loss as al
    library, library_backward = al._fused_chunks, al._FusedAdaptiveCE.backward
    hid, W, labels, styles = _case(B, T, H, V, device)

    def run(impl, adaptive):
        al._fused_chunks = impl
        al._FusedAdaptiveCE.backward = library_backward if impl is library else staticmethod(backward_previous)
        hid.grad = W.grad = None
        if device == "cuda": torch.cuda.synchronize()
        t = time.perf_counter()
        loss, stats = al.adaptive_loss_from_hidden(hid, W, labels, styles, adaptive=adaptive)
        loss.backward()
        if device == "cuda": torch.cuda.synchronize()
        return time.perf_counter() - t, loss.detach(), stats, hid.grad.clone(), W.grad.clone()

    out = {}
    try:
        for adaptive in (True, False):
            a, b = run(fused_chunks_previous, adaptive), run(library, adaptive)
            assert a[2] == b[2], (a[2], b[2])
            torch.testing.assert_close(a[1], b[1], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(a[3], b[3], rtol=1e-3, atol=1e-6)
            torch.testing.assert_close(a[4], b[4], rtol=1e-3, atol=1e-6)
            ta, tb = [], []
            for _ in range(reps):
                ta.append(run(fused_chunks_previous, adaptive)[0]); tb.append(run(library, adaptive)[0])
            from common import median
            out["adaptive" if adaptive else "ce"] = (median(ta), median(tb))
    finally:
        al._fused_chunks, al._FusedAdaptiveCE.backward = library, library_backward
    return out


def loss_peak(impl, mode, device):
    "Peak memory over the baseline of one loss + backward at the 0.5B head shape (run in a fresh process)."
    from common import peak_rss_mib, reset_peak_rss, rss_mib
    import trigger_nb.adaptive_loss as al
    if impl == "previous": use_previous()
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
        def sliced():  # the library's way
            from trigger_nb.adaptive_loss import _count_ranks
            out = torch.empty(n, dtype=torch.long)
            _count_ranks(z, zy, out)
            return out
        ways = {"`(z > zy[:, None]).sum(-1)` (previous)": lambda: (z > zy[:, None]).sum(-1),
                "`.sum(-1, dtype=torch.int32)`": lambda: (z > zy[:, None]).sum(-1, dtype=torch.int32),
                "int32, 2**22 logits at a time (library)": sliced,
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
    p.add_argument("--memory", action="store_true", help="peak memory of loss + backward, previous vs library, 0.5B head")
    p.add_argument("--ranks", action="store_true", help="time and memory of ways to count ranks (CPU)")
    p.add_argument("--profile", action="store_true", help="torch.profiler table of the library's loss + backward, 0.5B head")
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
        for impl in ("previous", "library"):
            for mode in ("adaptive", "ce"):
                r = subprocess.run([sys.executable, __file__, "--device", a.device, "--one", impl, mode],
                                   capture_output=True, text=True, check=True)
                print(f"| {impl} | {mode} | {r.stdout.split()[-1]} |", flush=True)
        return
    cases = [("tiny head, 8 rows x 190 tokens", 8, 190, 128, 998, 15),
             ("Qwen2.5-0.5B head, 1 row x 512 tokens", 1, 512, 896, 151936, 5)]
    print("| loss + backward | previous adaptive ms | previous ce ms | previous adaptive/ce | library adaptive ms | "
          "library ce ms | library adaptive/ce | library/previous (adaptive) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, B, T, H, V, reps in cases:
        r = compare(B, T, H, V, reps, a.device)
        (pa, la), (pc, lc) = r["adaptive"], r["ce"]
        print(f"| {name} | {pa*1e3:.1f} | {pc*1e3:.1f} | {pa/pc:.2f} | {la*1e3:.1f} | {lc*1e3:.1f} | {la/lc:.2f} | {la/pa:.2f} |",
              flush=True)

if __name__ == "__main__":
    main()
