"""Benchmarks of trigger_nb against the tools a user would pick instead, side by side in one run.

    .venv/bin/python bench/run.py --quick          # section 1 on the tiny model, CPU, a few minutes; ends with the summary line
    .venv/bin/python bench/run.py                  # every CPU section, in the order of SECTIONS (below)
    .venv/bin/python bench/run.py --only qwen-cpu  # one section, by its name in SECTIONS (repeat --only for several)
    .venv/bin/python bench/run.py --only small     # the real model "small" (SmolLM2-135M-Instruct): teacher step, query_model
                                                   # (= --only small-train --only small-inference)
    .venv/bin/python bench/run.py --only gpu       # the GPU sections (needs CUDA)

Each contender trains in its own process (so its peak memory is its own). Where memory allows, all contenders'
processes are started at once and then run in turns, one block of steps each, the order rotating every round
(A B C D, B C D A, ...): the machine's noise falls on all of them alike, and ratios are medians of per-round
ratios. Where it does not (the 0.5B/1.5B shapes), each round starts fresh processes one after the other.
Figures go to bench/out/<section>.json and, as markdown (bench/render.py), to stdout.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render
from common import BENCH, OUT, ROOT, machine, median, mem_key

ENV = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore",
       # idle OpenMP threads sleep instead of spinning: on a shared machine spinning threads slow everyone down
       # several-fold and make the figures noise (see RESULTS.md); the same for every contender
       "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg() -> str:
    try: return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError: return "?"


# ---------------------------------------------------------------- running workers
class Worker:
    "A train_worker.py process run in --interactive mode: one block of steps per `step()`."
    def __init__(self, label, args):
        self.label = label
        OUT.mkdir(parents=True, exist_ok=True)
        self.err = open(OUT / f"worker-{label}.log", "w")
        cmd = [sys.executable, str(BENCH / "train_worker.py"), *args, "--interactive"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env=ENV, cwd=ROOT)
        self.ready = None

    def read(self, kind):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                msg = json.loads(line[2:])
                if msg["kind"] == kind: return msg
        raise RuntimeError(f"{self.label} stopped before '{kind}' (exit {self.proc.wait()}): see {self.err.name}")

    def wait_ready(self):
        self.ready = self.read("ready")
        return self.ready

    def step(self):
        self.proc.stdin.write("go\n"); self.proc.stdin.flush()
        return self.read("block")

    def finish(self):
        done = self.read("done")  # the last block ended training: the worker reports and exits
        self.proc.stdin.close(); self.proc.wait(); self.err.close()
        return done


def interactive_compare(contenders: dict, common: list, rounds: int, sparse: dict | None = None) -> dict:
    """Start every contender's process, then run one block each per round, rotating the order; return raw results.

    A contender's own arguments come after `common` and override it. `sparse` maps a slow contender to the rounds
    (0-based) it takes part in; the others take part in every round. Each block records its round, so that ratios
    pair blocks of the same round."""
    sparse = sparse or {}
    plan = {k: sparse.get(k, range(rounds)) for k in contenders}
    workers = {k: Worker(k, [*common, *v, "--blocks", str(len(plan[k]))]) for k, v in contenders.items()}
    t = time.perf_counter()
    for w in workers.values(): w.wait_ready()
    log(f"  {len(workers)} workers ready in {time.perf_counter() - t:.0f} s")
    names, blocks = list(workers), {k: [] for k in workers}
    for r in range(rounds):
        order = [k for k in names[r % len(names):] + names[:r % len(names)] if r in plan[k]]
        log(f"  round {r + 1}/{rounds}: {' '.join(order)} (load {loadavg()})")
        t = time.perf_counter()
        for k in order: blocks[k].append({**workers[k].step(), "round": r})
        log(f"    {time.perf_counter() - t:.0f} s")
    done = {k: w.finish() for k, w in workers.items()}
    return {k: dict(ready=workers[k].ready, blocks=blocks[k], done=done[k]) for k in names}


def sequential_compare(contenders: dict, common: list, rounds: int) -> dict:
    "One fresh process per contender and round, one after the other, the order rotating; return raw results."
    names, res = list(contenders), {k: dict(blocks=[], done=[], ready=[]) for k in contenders}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            log(f"  round {r + 1}/{rounds}: {k} (load {loadavg()})")
            out = run_worker_msgs([*contenders[k], *common, "--blocks", "1"])
            res[k]["blocks"] += [m for m in out if m["kind"] == "block"]
            res[k]["done"].append(next(m for m in out if m["kind"] == "done"))
            res[k]["ready"].append(next(m for m in out if m["kind"] == "ready"))
    for k in names:  # peak memory: the largest over the rounds' processes
        res[k]["done"] = max(res[k]["done"], key=lambda m: m.get("gpu_peak_mib", m["rss_peak_mib"]))
        res[k]["ready"] = res[k]["ready"][0]
    return res


def run_worker_msgs(args, script="train_worker.py", timeout=3600) -> list:
    cmd = [sys.executable, str(BENCH / script), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=ROOT)
    if r.returncode != 0: raise RuntimeError(f"{' '.join(cmd[1:])} failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return [json.loads(l[2:]) for l in r.stdout.splitlines() if l.startswith("@@")]


# ---------------------------------------------------------------- summaries
def block_stats(b):
    n = len(b["step_s"])
    return dict(step_s=sum(b["step_s"]) / n, cpu_s=sum(b["cpu_s"]) / n, tok_s=sum(b["real_tokens"]) / sum(b["step_s"]),
                real=sum(b["real_tokens"]) / n, padded=sum(b["padded_tokens"]) / n)


def summarize(res: dict) -> dict:
    "Per contender: medians over blocks of step time and tokens/s, tokens per step, memory."
    out = {}
    for k, r in res.items():
        bs = [block_stats(b) for b in r["blocks"]]
        d = r["done"]
        steps = [(t, c, n) for b in r["blocks"] for t, c, n in zip(b["step_s"], b["cpu_s"], b["real_tokens"])]
        out[k] = dict(step_s=median([t for t, _, _ in steps]), cpu_s=median([c for _, c, _ in steps]),
                      tok_s=median([n / t for t, _, n in steps]),
                      step_s_spread=(min(b["step_s"] for b in bs), max(b["step_s"] for b in bs)),
                      real_tokens_per_step=statistics.mean(b["real"] for b in bs),
                      padded_tokens_per_step=statistics.mean(b["padded"] for b in bs),
                      blocks=len(bs), steps_per_block=len(r["blocks"][0]["step_s"]),
                      rss_baseline_mib=d["rss_baseline_mib"], rss_peak_mib=d["rss_peak_mib"],
                      rss_increase_mib=d["rss_increase_mib"], rss_lifetime_peak_mib=d["rss_lifetime_peak_mib"],
                      **{k2: d[k2] for k2 in ("gpu_baseline_mib", "gpu_peak_mib", "gpu_increase_mib") if k2 in d})
    return out


def paired_ratio(res, a, b, key):
    "Median over rounds of a's block figure over b's (both measured in the same round)."
    ra = {x.get("round", i): block_stats(x)[key] for i, x in enumerate(res[a]["blocks"])}
    rb = {x.get("round", i): block_stats(x)[key] for i, x in enumerate(res[b]["blocks"])}
    return median([ra[r] / rb[r] for r in ra if r in rb])


def paired_per_token(res, a, b, key):
    "Median over rounds of a's block figure per real token over b's (both measured in the same round): for blocks of different batches."
    per = lambda k: {x.get("round", i): block_stats(x)[key] / block_stats(x)["real"] for i, x in enumerate(res[k]["blocks"])}
    pa, pb = per(a), per(b)
    return median([pa[r] / pb[r] for r in pa if r in pb])


def ratios(res, summary, ours="adaptive", ce="ce", rival="at006") -> dict:
    "adaptive/ce time and memory, speed-up and memory fraction against adaptive-trainer 0.0.6 (and its README setup, if run)."
    mk = mem_key(summary)
    inc, peak = f"{mk}_increase_mib", f"{mk}_peak_mib"
    r = dict(adaptive_over_ce_time=paired_ratio(res, ours, ce, "step_s"),
             adaptive_over_ce_cpu_time=paired_ratio(res, ours, ce, "cpu_s"),
             adaptive_over_ce_mem_increase=summary[ours][inc] / summary[ce][inc],
             adaptive_over_ce_mem_peak=summary[ours][peak] / summary[ce][peak])
    if rival in res:
        r.update(vs_adaptive_trainer_speedup=paired_ratio(res, ours, rival, "tok_s"),
                 vs_adaptive_trainer_cpu_speedup=paired_ratio(res, rival, ours, "cpu_s"),
                 adaptive_over_adaptive_trainer_mem_increase=summary[ours][inc] / summary[rival][inc],
                 adaptive_over_adaptive_trainer_mem_peak=summary[ours][peak] / summary[rival][peak])
    if "at006-readme" in res:
        r.update(vs_adaptive_trainer_readme_speedup=paired_ratio(res, ours, "at006-readme", "tok_s"),
                 vs_adaptive_trainer_readme_cpu_speedup=paired_ratio(res, "at006-readme", ours, "cpu_s"),
                 adaptive_over_adaptive_trainer_readme_mem_increase=summary[ours][inc] / summary["at006-readme"][inc],
                 adaptive_over_adaptive_trainer_readme_mem_peak=summary[ours][peak] / summary["at006-readme"][peak])
    if "trl" in res:
        r.update(adaptive_over_trl_time=paired_ratio(res, ours, "trl", "step_s"),
                 ce_over_trl_time=paired_ratio(res, ce, "trl", "step_s"))
    return r


def save(section, payload):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{section}.json").write_text(json.dumps(payload, indent=1))


def emit(text: str):
    "Print a section's markdown now, so a long run shows each section as it ends."
    print(text, flush=True)


# ---------------------------------------------------------------- sections
# the tiny-model comparisons' shared worker arguments: 768 rows of 20-200 tokens, batch 8, blocks of 4 steps
TINY_COMMON = ["--model", "tiny", "--device", "cpu", "--rows", "768", "--min-tokens", "20", "--max-tokens", "200",
               "--batch", "8", "--warmup", "3", "--block-steps", "4"]

def section_tiny(quick: bool, cmd: str):
    """Section 1 on the tiny model. adaptive-trainer runs twice: as its README configures it (every row padded to
    its default max_length_token=4096; train_adaptively always turns gradient checkpointing on), which is what the
    summary line compares with, and at its best case (padded only to the longest row, no checkpointing). The README
    setup takes ~10-50 s a step here, so it runs one step in every fourth round."""
    rounds = 12 if quick else 16
    contenders = {"adaptive": ["--contender", "adaptive"], "ce": ["--contender", "ce"], "trl": ["--contender", "trl"],
                  "at006": ["--contender", "at006"],
                  "at006-readme": ["--contender", "at006", "--max-length", "4096", "--at006-gc", "--warmup", "1",
                                   "--block-steps", "1"]}
    if not quick: contenders["at006-gc"] = ["--contender", "at006", "--at006-gc"]
    common = TINY_COMMON
    m = machine(); m["load_start"] = loadavg()
    log(f"section 1, tiny model, CPU: {len(contenders)} contenders x {rounds} rounds")
    res = interactive_compare(contenders, common, rounds, sparse={"at006-readme": range(0, rounds, 4)})
    summary = summarize(res)
    rats = ratios(res, summary)
    save("tiny-quick" if quick else "tiny", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
    emit(render.section("Section 1: adaptive loss cost, tiny model, CPU", cmd, m, loadavg(), summary, rats))
    return rats


def section_whatif(cmd: str):
    "The loss's previous chunk body and packed rows, side by side with the library as it is and adaptive-trainer 0.0.6."
    contenders = {"adaptive": ["--contender", "adaptive"], "ce": ["--contender", "ce"],
                  "adaptive-prev": ["--contender", "adaptive", "--loss-impl", "previous"],
                  "ce-prev": ["--contender", "ce", "--loss-impl", "previous"],
                  "adaptive-packed": ["--contender", "adaptive", "--packed"],
                  "at006": ["--contender", "at006"]}
    common = TINY_COMMON
    m = machine(); m["load_start"] = loadavg()
    log(f"what-if, tiny model, CPU: {len(contenders)} contenders x 12 rounds")
    res = interactive_compare(contenders, common, 12)
    summary = summarize(res)
    rats = {}
    for k in contenders:
        if k == "at006": continue
        rats[f"{k}_speedup_vs_at006"] = paired_ratio(res, k, "at006", "tok_s")
        rats[f"{k}_mem_increase_over_at006"] = summary[k]["rss_increase_mib"] / summary["at006"]["rss_increase_mib"]
    rats["prev_adaptive_over_prev_ce_time"] = paired_ratio(res, "adaptive-prev", "ce-prev", "step_s")
    rats["prev_adaptive_over_prev_ce_cpu_time"] = paired_ratio(res, "adaptive-prev", "ce-prev", "cpu_s")
    rats["adaptive_over_prev_adaptive_cpu_time"] = paired_ratio(res, "adaptive", "adaptive-prev", "cpu_s")
    rats["adaptive_over_ce_time"] = paired_ratio(res, "adaptive", "ce", "step_s")
    rats["adaptive_over_ce_cpu_time"] = paired_ratio(res, "adaptive", "ce", "cpu_s")
    save("whatif", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
    emit(render.section("What-if: previous chunk body, packed rows, tiny model, CPU", cmd, m, loadavg(), summary, rats))
    return rats


def section_sampler(cmd: str):
    "What-if: batches of similar lengths (transformers' train_sampling_strategy='group_by_length') against padding waste."
    contenders = {"adaptive": ["--contender", "adaptive"],
                  "adaptive-gbl": ["--contender", "adaptive", "--sampler", "group_by_length"],
                  "at006": ["--contender", "at006"]}
    common = ["--model", "tiny", "--device", "cpu", "--rows", "400", "--min-tokens", "20", "--max-tokens", "200",
              "--batch", "8", "--warmup", "2", "--block-steps", "4"]
    m = machine(); m["load_start"] = loadavg()
    log("what-if, group_by_length sampler, tiny model, CPU: 3 contenders x 12 rounds (one epoch)")
    res = interactive_compare(contenders, common, 12)
    summary = summarize(res)
    # the grouped batches differ from the random ones: compare whole runs, all timed tokens over all timed seconds
    tot = {k: (sum(sum(b["real_tokens"]) for b in r["blocks"]), sum(sum(b["step_s"]) for b in r["blocks"]),
               sum(sum(b["cpu_s"]) for b in r["blocks"])) for k, r in res.items()}
    rats = {f"{k}_tokens_per_s_over_the_run": n / t for k, (n, t, c) in tot.items()}
    rats.update({f"{k}_tokens_per_cpu_s_over_the_run": n / c for k, (n, t, c) in tot.items()})
    rats["gbl_speedup_vs_at006_cpu"] = rats["adaptive-gbl_tokens_per_cpu_s_over_the_run"] / rats["at006_tokens_per_cpu_s_over_the_run"]
    rats["random_speedup_vs_at006_cpu"] = rats["adaptive_tokens_per_cpu_s_over_the_run"] / rats["at006_tokens_per_cpu_s_over_the_run"]
    save("sampler", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
    emit(render.section("What-if: length-grouped batches, tiny model, CPU", cmd, m, loadavg(), summary, rats))
    return rats


def section_qwen_cpu(cmd: str, rounds: int = 1):
    contenders = {k: ["--contender", k] for k in ("adaptive", "ce", "trl", "at006")}
    common = ["--model", "qwen0.5b", "--device", "cpu", "--rows", "16", "--min-tokens", "256", "--max-tokens", "512",
              "--batch", "1", "--warmup", "1", "--block-steps", "2"]
    m = machine(); m["load_start"] = loadavg()
    log(f"section 1, Qwen2.5-0.5B shape, CPU, sequence <= 512: {len(contenders)} contenders x {rounds} round(s)")
    res = sequential_compare(contenders, common, rounds)
    summary = summarize(res)
    # one process per contender: pair steps by position (same batches), median of per-step ratios
    rats = ratios_by_step(res, summary)
    save("qwen-cpu", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
    emit(render.section("Section 1: adaptive loss cost, Qwen2.5-0.5B shape (random weights), CPU, rows of 256-512 tokens",
                        cmd, m, loadavg(), summary, rats))
    return rats


def ratios_by_step(res, summary, ours="adaptive", ce="ce", rival="at006"):
    "Ratios for sequential runs: every contender saw the same batches in the same order; median of per-step ratios."
    def steps(k, key):
        out = []
        for b in res[k]["blocks"]:
            t = b["cpu_s"] if key.startswith("cpu") else b["step_s"]
            out += [x if key in ("step_s", "cpu_s") else n / x for x, n in zip(t, b["real_tokens"])]
        return out
    mk = mem_key(summary)
    r = dict(adaptive_over_ce_time=median([x / y for x, y in zip(steps(ours, "step_s"), steps(ce, "step_s"))]),
             adaptive_over_ce_cpu_time=median([x / y for x, y in zip(steps(ours, "cpu_s"), steps(ce, "cpu_s"))]),
             adaptive_over_ce_mem_increase=summary[ours][f"{mk}_increase_mib"] / summary[ce][f"{mk}_increase_mib"],
             adaptive_over_ce_mem_peak=summary[ours][f"{mk}_peak_mib"] / summary[ce][f"{mk}_peak_mib"])
    if rival in res:
        r.update(vs_adaptive_trainer_speedup=median([x / y for x, y in zip(steps(ours, "tok"), steps(rival, "tok"))]),
                 vs_adaptive_trainer_cpu_speedup=median([x / y for x, y in zip(steps(ours, "cpu_tok"), steps(rival, "cpu_tok"))]),
                 adaptive_over_adaptive_trainer_mem_increase=summary[ours][f"{mk}_increase_mib"] / summary[rival][f"{mk}_increase_mib"],
                 adaptive_over_adaptive_trainer_mem_peak=summary[ours][f"{mk}_peak_mib"] / summary[rival][f"{mk}_peak_mib"])
    if "trl" in res:
        r["adaptive_over_trl_time"] = median([x / y for x, y in zip(steps(ours, "step_s"), steps("trl", "step_s"))])
    return r


def section_teacher(cmd: str):
    contenders = {"teacher": ["--contender", "teacher"], "trl-lora": ["--contender", "trl-lora"]}
    common = TINY_COMMON
    m = machine(); m["load_start"] = loadavg()
    log("section 2, teacher step (LoRA r=8), tiny, CPU")
    res = interactive_compare(contenders, common, 10)
    summary = summarize(res)
    rats = dict(teacher_over_trl_lora_time=paired_ratio(res, "teacher", "trl-lora", "step_s"),
                teacher_over_trl_lora_mem_increase=summary["teacher"]["rss_increase_mib"] / summary["trl-lora"]["rss_increase_mib"])
    save("teacher", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
    emit(render.section("Section 2: teacher training step, LoRA r=8 on q/k/v/o/gate/up/down, tiny model, CPU", cmd, m, loadavg(), summary, rats))
    return rats


def inference_rows(msg: dict) -> list[dict]:
    """Per batch size: wall time (median of rounds), speed-up over one by one as the ratio of the medians and as the
    median of per-round ratios (the load of a round falls on both), process CPU-time ratio (which the neighbours' load
    barely touches; older saved runs lack it), and the answers equal to one by one's."""
    t1, cpu, n = median(msg["times"]["1"]), msg.get("cpu_s"), len(msg["prompt_tokens"])
    rows = []
    for bs, ts in msg["times"].items():
        per_round = [a / b for a, b in zip(msg["times"]["1"], ts)]
        row = dict(batch_size=bs, wall_s=median(ts), runs=ts, speedup=t1 / median(ts), per_round=per_round,
                   speedup_paired=median(per_round), same=msg["same_answer_as_one_by_one"].get(bs, n))
        if cpu: row.update(cpu_s=median(cpu[bs]), cpu_ratio=median([a / b for a, b in zip(cpu["1"], cpu[bs])]))
        rows.append(row)
    return rows


def inference_ratios(rows: list[dict]) -> dict:
    "The batched rows' speed-ups and CPU-time ratios, named by batch size."
    rats = {}
    for r in rows:
        if r["batch_size"] == "1": continue
        bs = r["batch_size"]
        rats[f"batched{bs}_speedup"], rats[f"batched{bs}_speedup_paired"] = r["speedup"], r["speedup_paired"]
        if "cpu_ratio" in r: rats[f"batched{bs}_cpu_ratio_paired"] = r["cpu_ratio"]
    return rats


def section_inference(cmd: str, device="cpu", model="tiny", extra=(), title="Section 3", name="inference", rounds=2):
    "query_model batched against one by one, in one worker process, the order of the batch sizes alternating."
    m = machine(); m["load_start"] = loadavg()
    log(f"{title.lower()}, query_model batched vs one by one, {model} model, {rounds} rounds")
    msg = next(x for x in run_worker_msgs(["--rounds", str(rounds), "--device", device, "--model", model, *extra], "infer_worker.py")
               if x["kind"] == "inference")
    save(name, dict(machine=m, command=cmd, raw=msg))
    rows = inference_rows(msg)
    emit(render.inference_section(title, cmd, m, loadavg(), msg, rows, model, device))
    return inference_ratios(rows)


# the "small" teacher section: the teacher's own rows of the bundled QA pairs (192 rows of 43-58 tokens in the small
# model's tokenizer and chat template), batch 8, one warm-up step, blocks of 2 steps
SMALL_COMMON = ["--model", "small", "--device", "cpu", "--rows", "192", "--batch", "8", "--warmup", "1", "--block-steps", "2"]
SMALL_ROUNDS = 5

def native_bf16() -> bool:
    "Whether this CPU has bf16 instructions (AVX512-BF16 or AMX-BF16): without them bf16 autocast on the CPU is far slower."
    try: flags = Path("/proc/cpuinfo").read_text()
    except OSError: return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


SMALL_INFER = ["--prompts", "16", "--new-tokens", "24", "--batch-sizes", "8,16"]
SMALL_INFER_ROUNDS = 3


def section_small_inference(cmd: str):
    "query_model batched vs one by one on the real model \"small\": 16 prompts, 24 new tokens, batch 8 and 16 vs 1."
    return section_inference(cmd, model="small", extra=SMALL_INFER, title="Section 5b", name="small-inference",
                             rounds=SMALL_INFER_ROUNDS)


def section_small(cmd: str, rounds: int = SMALL_ROUNDS):
    """The real model "small" (SmolLM2-135M-Instruct, fp32 on CPU): the teacher's training step (LoRA r=8 as the teacher
    puts it), loss="ce" and loss="adaptive" through AdaptiveTrainer, against trl's SFTTrainer on the same LoRA model
    and rows, (a) with the settings every contender shares (bf16=False, no checkpointing) and (b) with trl's own
    SFTConfig defaults (bf16 autocast and gradient checkpointing on, even on a CPU). (b) runs blocks of one step; on a
    CPU without bf16 instructions, where its steps take over a minute, only in rounds 1, 3, 5. (`--only small` runs
    this and `section_small_inference`.)"""
    contenders = {"teacher": ["--contender", "teacher"], "teacher-adaptive": ["--contender", "teacher-adaptive"],
                  "trl-lora": ["--contender", "trl-lora"],
                  "trl-lora-defaults": ["--contender", "trl-lora-defaults", "--block-steps", "1"]}
    bf16_cpu = native_bf16()
    sparse = {} if bf16_cpu else {"trl-lora-defaults": range(0, rounds, 2)}
    m = machine(); m["load_start"] = loadavg()
    log(f"small model (SmolLM2-135M-Instruct), teacher step, CPU: {len(contenders)} contenders x {rounds} rounds")
    t = time.perf_counter()
    res = interactive_compare(contenders, SMALL_COMMON, rounds, sparse=sparse)
    summary = summarize(res)
    inc = lambda k: summary[k]["rss_increase_mib"]
    rats = dict(adaptive_over_ce_time=paired_ratio(res, "teacher-adaptive", "teacher", "step_s"),
                adaptive_over_ce_cpu_time=paired_ratio(res, "teacher-adaptive", "teacher", "cpu_s"),
                adaptive_over_ce_mem_increase=inc("teacher-adaptive") / inc("teacher"))
    # against trl: time per real token (trl's defaults run blocks of 1 step, so their batches are not the others')
    for ours in ("teacher", "teacher-adaptive"):
        tag = "ce" if ours == "teacher" else "adaptive"
        for rival, rtag in (("trl-lora", "trl"), ("trl-lora-defaults", "trl_defaults")):
            rats[f"{tag}_over_{rtag}_time"] = paired_per_token(res, ours, rival, "step_s")
            rats[f"{tag}_over_{rtag}_cpu_time"] = paired_per_token(res, ours, rival, "cpu_s")
            rats[f"{tag}_over_{rtag}_mem_increase"] = inc(ours) / inc(rival)
    ready = {k: dict(setup_s=r["ready"]["setup_s"], params=r["ready"]["params"], trainable=r["ready"]["trainable"])
             for k, r in res.items()}
    save("small", dict(machine=m, command=cmd, common=SMALL_COMMON, raw=res, summary=summary, ratios=rats, ready=ready,
                       native_bf16=bf16_cpu, wall_s=time.perf_counter() - t))
    r0 = next(iter(ready.values()))
    note = render.small_note(r0["params"], r0["trainable"], rounds, sparse.get("trl-lora-defaults", range(rounds)),
                             bf16_cpu, time.perf_counter() - t)
    emit(render.section('Section 5: the real model "small" (SmolLM2-135M-Instruct), teacher training step, LoRA r=8, fp32, CPU',
                        cmd, m, loadavg(), summary, rats, note, labels=render.SMALL_LABELS))
    return rats


def section_demo(cmd: str):
    """Wall time of `make demo` on 2 cores, the install already done (`-o` keeps make from re-running it). The model
    is the Makefile's MODEL (the real model "small" unless MODEL is set in the environment)."""
    m = machine(); m["load_start"] = loadavg()
    make, model = ["make", "-o", ".venv/.install-stamp", "demo"], os.environ.get("MODEL", "small")
    dry = subprocess.run(make[:1] + ["-n"] + make[1:], cwd=ROOT, capture_output=True, text=True)
    if dry.returncode != 0 or "trigger_nb" not in dry.stdout:
        emit(render.demo_missing()); return {}
    cores = "0,1" if (os.cpu_count() or 1) >= 2 else "0"
    log(f"section 4, make demo (MODEL={model}) on cores {cores}")
    t = time.perf_counter()
    r = subprocess.run(["taskset", "-c", cores, *make], cwd=ROOT, capture_output=True, text=True, env=os.environ)
    wall = time.perf_counter() - t
    save("demo", dict(machine=m, command=cmd, model=model, wall_s=wall, rc=r.returncode, tail=r.stdout[-3000:] + r.stderr[-3000:]))
    emit(render.demo_section(cmd, m, loadavg(), cores, make, wall, r.returncode, model))
    return dict(demo_wall_s=wall)


GPU_SHAPES = [("qwen0.5b", 4, 1024), ("qwen0.5b", 4, 2048), ("qwen1.5b", 2, 1024), ("qwen1.5b", 2, 2048)]


def gpu_contenders() -> tuple[dict, str]:
    "adaptive and ce, with trl and adaptive-trainer 0.0.6 where they are installed; a note naming any left out."
    import importlib.util
    names, left = ["adaptive", "ce"], []
    for key, module, how in (("trl", "trl", "trl's SFTTrainer (pip install trl)"),
                             ("at006", "adaptive_trainer", "adaptive-trainer 0.0.6 (pip install --no-deps adaptive-trainer==0.0.6)")):
        if importlib.util.find_spec(module): names.append(key)
        else: left.append(how)
    return {k: ["--contender", k] for k in names}, ("left out, not installed: " + "; ".join(left)) if left else ""


def mfu(summary: dict, model: str, batch: int, lora: bool = False) -> tuple[dict, str, float | None]:
    """Model FLOPs utilisation of each contender (median tokens/s x FLOPs per token / the GPU's bf16 peak), the GPU's
    name and that peak (None, and no figures, where the peak is not known)."""
    import torch
    from common import model_shape, peak_bf16_tflops, train_flops_per_token
    name = torch.cuda.get_device_name(0)
    peak = peak_bf16_tflops(name)
    if peak is None: return {}, name, None
    out = {}
    for k, s in summary.items():
        seq = s["real_tokens_per_step"] / batch  # the mean row length, for the attention term
        out[k] = s["tok_s"] * train_flops_per_token(model_shape(model), seq, lora) / (peak * 1e12)
    return out, name, peak


def section_gpu(cmd: str, rounds: int = 2, shapes: list | None = None):
    "GPU: Qwen2.5-0.5B and 1.5B shapes, bf16, rows of seq/2..seq tokens, sequence 1024 and 2048; teacher on 0.5B."
    import torch
    if not torch.cuda.is_available():
        emit(render.no_gpu()); return {}
    all_rats = {}
    contenders, note = gpu_contenders()
    for model, batch, seq in shapes or GPU_SHAPES:
        common = ["--model", model, "--device", "cuda", "--rows", "256", "--min-tokens", str(seq // 2),
                  "--max-tokens", str(seq), "--batch", str(batch), "--warmup", "3", "--block-steps", "10"]
        m = machine(); m["load_start"] = loadavg()
        log(f"GPU: {model}, sequence {seq}, batch {batch}")
        res = sequential_compare(contenders, common, rounds)
        summary = summarize(res)
        rats = ratios(res, summary)
        util, name, peak = mfu(summary, model, batch)
        rats.update({f"{k}_mfu": v for k, v in util.items()})
        save(f"gpu-{model}-{seq}", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, ratios=rats))
        emit(render.section(f"GPU: {model} shape (random weights), bf16, rows of {seq // 2}-{seq} tokens, batch {batch}",
                            cmd, m, loadavg(), summary, rats, "\n".join(x for x in (render.mfu_text(util, name, peak, False), note) if x)))
        all_rats[f"{model}-{seq}"] = rats
    contenders = {"teacher": ["--contender", "teacher"]}
    if "trl" in gpu_contenders()[0]: contenders["trl-lora"] = ["--contender", "trl-lora"]
    common = ["--model", "qwen0.5b", "--device", "cuda", "--rows", "256", "--min-tokens", "512", "--max-tokens", "1024",
              "--batch", "4", "--warmup", "3", "--block-steps", "10"]
    m = machine(); m["load_start"] = loadavg()
    res = sequential_compare(contenders, common, rounds)
    summary = summarize(res)
    util, name, peak = mfu(summary, "qwen0.5b", 4, lora=True)
    save("gpu-teacher", dict(machine=m, command=cmd, common=common, raw=res, summary=summary, mfu=util))
    emit(render.section("GPU: teacher step, LoRA r=8, qwen0.5b shape, bf16, rows of 512-1024 tokens, batch 4", cmd, m,
                        loadavg(), summary, {}, render.mfu_text(util, name, peak, True)))
    all_rats["teacher"] = {f"{k}_mfu": v for k, v in util.items()}
    return all_rats


def report(path):
    "A saved section's table and ratios again (the ratios as saved; the table from its raw blocks)."
    d = json.loads(Path(path).read_text())
    blocks = "raw" in d and "blocks" in next(iter(d["raw"].values()))
    emit(render.saved_run(Path(path).stem if blocks else str(path), d, summarize(d["raw"]) if blocks else None))


def gpu_shapes(wanted: list | None) -> list | None:
    "`--gpu-shapes qwen0.5b:2048 ...` as GPU_SHAPES entries; None (all of them) when not given."
    return [next(x for x in GPU_SHAPES if f"{x[0]}:{x[2]}" == w) for w in wanted] if wanted else None


# ---------------------------------------------------------------- the table of sections
# name -> how to run it. A run without --only takes every section but "gpu" (it needs CUDA), in this order; --only
# takes the named ones, in this order too.
SECTIONS = {
    "tiny": lambda cmd, a: section_tiny(False, cmd),
    "whatif": lambda cmd, a: section_whatif(cmd),
    "sampler": lambda cmd, a: section_sampler(cmd),
    "teacher": lambda cmd, a: section_teacher(cmd),
    "inference": lambda cmd, a: section_inference(cmd),
    "qwen-cpu": lambda cmd, a: section_qwen_cpu(cmd, a.qwen_rounds),
    "small-train": lambda cmd, a: section_small(cmd),
    "small-inference": lambda cmd, a: section_small_inference(cmd),
    "demo": lambda cmd, a: section_demo(cmd),
    "gpu": lambda cmd, a: section_gpu(cmd, a.gpu_rounds, gpu_shapes(a.gpu_shapes)),
}
GROUPS = {"small": ("small-train", "small-inference")}  # names that stand for several sections
CPU_SECTIONS = tuple(k for k in SECTIONS if k != "gpu")


def chosen(only: list | None) -> list[str]:
    "The sections `--only` names (groups expanded), in the table's order; every CPU section when none is named."
    if not only: return list(CPU_SECTIONS)
    want = {n for o in only for n in GROUPS.get(o, (o,))}
    return [k for k in SECTIONS if k in want]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="section 1 on the tiny model only (CPU), then the summary line")
    p.add_argument("--only", choices=[*SECTIONS, *GROUPS], action="append",
                   help="run this section (repeatable); " + ", ".join(f"{g} = {' + '.join(v)}" for g, v in GROUPS.items()))
    p.add_argument("--qwen-rounds", type=int, default=1)
    p.add_argument("--gpu-rounds", type=int, default=2, help="gpu: fresh processes per contender and shape")
    p.add_argument("--gpu-shapes", nargs="+", metavar="MODEL:SEQ", help="gpu: only these, e.g. qwen0.5b:2048 (default: all four)")
    p.add_argument("--report", nargs="+", metavar="JSON", help="print the tables of saved bench/out/<section>.json files again")
    a = p.parse_args()
    if a.report:
        for f in a.report: report(f)
        return
    cmd = ".venv/bin/python bench/run.py " + " ".join(sys.argv[1:])
    t0 = time.perf_counter()
    if a.quick:
        r = section_tiny(True, cmd)
        log(f"quick run: {time.perf_counter() - t0:.0f} s")
        emit(render.quick_summary(r))
        return
    for name in chosen(a.only): SECTIONS[name](cmd, a)
    log(f"total: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
