"""The benchmarks' figures as markdown: what bench/run.py prints and bench/RESULTS.md keeps.

Nothing here measures. Each function takes figures already computed (a section's summary and ratios, an inference
run's rows, a saved run's JSON) and returns text, so a saved run reads the same as a live one, and a change of wording
cannot change a measurement.
"""
import json

from common import machine_line, mem_key

LABELS = {"adaptive": 'trigger_nb AdaptiveTrainer loss="adaptive"', "ce": 'trigger_nb AdaptiveTrainer loss="ce"',
          "trl": "trl SFTTrainer (NLL)", "at006": "adaptive-trainer 0.0.6, its best case (max_length = longest row, no checkpointing)",
          "at006-readme": "adaptive-trainer 0.0.6 as its README configures it (max_length_token=4096, gradient checkpointing)",
          "at006-gc": "adaptive-trainer 0.0.6, max_length = longest row, gradient checkpointing",
          "teacher": 'trigger_nb AdaptiveTrainer loss="ce" + LoRA r=8', "trl-lora": "trl SFTTrainer + LoRA r=8",
          "teacher-adaptive": 'trigger_nb AdaptiveTrainer loss="adaptive" + LoRA r=8',
          "trl-lora-defaults": "trl SFTTrainer + LoRA r=8, trl's defaults (bf16 autocast + gradient checkpointing)",
          "adaptive-prev": 'adaptive, previous chunk body (bench/loss_variants.py)',
          "ce-prev": 'ce, previous chunk body', "adaptive-packed": "adaptive, rows packed end to end (no padding)",
          "adaptive-gbl": 'adaptive, train_sampling_strategy="group_by_length"'}
SMALL_LABELS = {**LABELS, "trl-lora": "baseline (a): trl SFTTrainer + LoRA r=8, bf16=False, gradient_checkpointing=False",
                "trl-lora-defaults": "baseline (b): trl SFTTrainer + LoRA r=8, trl's defaults (bf16 autocast + gradient checkpointing)"}
# the one-line acceptance summary of `run.py --quick`: each name printed with its own value
QUICK_KEYS = ("adaptive_over_ce_time", "adaptive_over_ce_mem_increase", "vs_adaptive_trainer_readme_speedup")


def ratio_line(rats: dict) -> str:
    "Every ratio as `name=value`, in one line."
    return " ".join(f"{k}={v:.3f}" for k, v in rats.items())


def heading(title: str, cmd: str, m: dict, load_end: str | None = None) -> str:
    "A section's heading, the command that measured it and the machine it ran on."
    end = f", end {load_end}" if load_end else ""
    return f"\n### {title}\n\n`{cmd}`  \n{machine_line(m)}; load average at start {m['load_start']}{end}\n"


def contender_table(summary: dict, labels: dict = LABELS) -> str:
    "One row per contender: step time, CPU time, tokens per second, tokens per step and memory (GPU or RSS)."
    g = mem_key(summary) == "gpu"
    head = ("| contender | step s (median of steps) | min-max of block means | CPU s per step (median) | tokens/s (median of steps) | real / padded tokens per step | "
            + ("GPU peak MiB | GPU increase MiB |" if g else "peak RSS MiB (training) | RSS increase MiB | lifetime peak RSS MiB |"))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for k, s in summary.items():
        mem = (f"{s['gpu_peak_mib']:.0f} | {s['gpu_increase_mib']:.0f} |" if g else
               f"{s['rss_peak_mib']:.0f} | {s['rss_increase_mib']:.0f} | {s['rss_lifetime_peak_mib']:.0f} |")
        lines.append(f"| {labels.get(k, k)} | {s['step_s']:.3f} | {s['step_s_spread'][0]:.3f}-{s['step_s_spread'][1]:.3f} | {s['cpu_s']:.3f} | "
                     f"{s['tok_s']:.0f} | {s['real_tokens_per_step']:.0f} / {s['padded_tokens_per_step']:.0f} | {mem}")
    return "\n".join(lines)


def section(title: str, cmd: str, m: dict, load_end: str, summary: dict, rats: dict, extra: str = "", labels: dict = LABELS) -> str:
    "A training comparison: heading, contender table, ratio line and any note."
    text = heading(title, cmd, m, load_end) + "\n" + contender_table(summary, labels)
    if rats: text += "\n\n" + ratio_line(rats)
    if extra: text += "\n" + extra
    return text


def inference_section(title: str, cmd: str, m: dict, load_end: str, msg: dict, rows: list, model: str, device: str) -> str:
    "query_model batched against one by one: per batch size, wall time, speed-ups, CPU time and equal answers."
    pt, cpu = msg["prompt_tokens"], any("cpu_ratio" in r for r in rows)
    lines = [heading(f"{title}: query_model, {msg['prompts']} prompts, greedy, exactly {msg['new_tokens']} new tokens "
                     f"each, {model} model, {device}", cmd, m, load_end),
             f"prompt lengths {min(pt)}-{max(pt)} tokens (chat-formatted)\n",
             "| batch_size | wall s (median of rounds) | all runs s | speed-up: ratio of the medians | speed-up: median of per-round ratios (each round) | "
             + ("CPU s (median) | CPU-time ratio, median of per-round ratios | " if cpu else "") + "answers equal to one-by-one |",
             "|---|---|---|---|---|" + ("---|---|" if cpu else "") + "---|"]
    for r in rows:
        c = f"{r['cpu_s']:.2f} | {r['cpu_ratio']:.2f}x | " if cpu else ""
        lines.append(f"| {r['batch_size']} | {r['wall_s']:.2f} | {', '.join(f'{t:.2f}' for t in r['runs'])} | {r['speedup']:.2f}x | "
                     f"{r['speedup_paired']:.2f}x ({', '.join(f'{x:.2f}' for x in r['per_round'])}) | {c}{r['same']}/{len(pt)} |")
    return "\n".join(lines)


def small_note(params: int, trainable: int, rounds: int, defaults_rounds, bf16_cpu: bool, seconds: float) -> str:
    "What the \"small\" teacher-step table ran: model size, rounds and blocks, and how long."
    return (f"\n{(params - trainable) / 1e6:.1f} M parameters, {trainable / 1e6:.2f} M trainable (LoRA); "
            f"{rounds} rounds, blocks of 2 steps after 1 warm-up step; trl's defaults blocks of 1 step, in rounds "
            f"{', '.join(str(i + 1) for i in defaults_rounds)} (CPU bf16 instructions: {'yes' if bf16_cpu else 'no'}); "
            f"training part {seconds:.0f} s")


def mfu_text(mfu: dict, device_name: str, peak: float | None, lora: bool) -> str:
    "Model FLOPs utilisation of each contender, one line."
    if peak is None: return f"MFU: the bf16 peak of {device_name} is not in bench/common.py's table; set GPU_PEAK_TFLOPS"
    return (f"MFU ({device_name}, bf16 peak {peak:.0f} TFLOP/s, {'4' if lora else '6'} FLOPs per weight per token + attention): "
            + ", ".join(f"{k} {v:.1%}" for k, v in mfu.items()))


def demo_section(cmd: str, m: dict, load_end: str, cores: str, make: list, wall: float, rc: int, model: str) -> str:
    "`make demo`'s wall time, install excluded."
    return (f"\n### Section 4: `make demo` (MODEL={model}) on {cores.count(',') + 1} cores, install already done\n\n"
            f"`{cmd}` (runs `taskset -c {cores} {' '.join(make)}`)  \n{machine_line(m)}; load average at start "
            f"{m['load_start']}, end {load_end}\n\nwall {wall:.1f} s (exit {rc})")


def demo_missing() -> str:
    return ("\n### Section 4: make demo\n\nnot run: `make -n demo` does not run the teacher command; measure with "
            "`taskset -c 0,1 /usr/bin/time -v make demo` after `make install`.")


def no_gpu() -> str:
    return "\n### GPU sections\n\nnot run: no CUDA device on this machine"


def quick_summary(r: dict) -> str:
    "The end of `run.py --quick`: adaptive-trainer 0.0.6 in both setups, then the acceptance line."
    return (f"\nadaptive-trainer 0.0.6 at its best case (not its README's setup): speed-up "
            f"{r['vs_adaptive_trainer_speedup']:.3f}, memory increase {r['adaptive_over_adaptive_trainer_mem_increase']:.3f}, "
            f"peak {r['adaptive_over_adaptive_trainer_mem_peak']:.3f}; as its README configures it: speed-up "
            f"{r['vs_adaptive_trainer_readme_speedup']:.3f}, memory increase "
            f"{r['adaptive_over_adaptive_trainer_readme_mem_increase']:.3f}, peak {r['adaptive_over_adaptive_trainer_readme_mem_peak']:.3f}\n"
            + ratio_line({k: r[k] for k in QUICK_KEYS}))


def saved_run(name: str, d: dict, summary: dict | None) -> str:
    "A saved bench/out/<section>.json again: its table and ratios, or its fields where it holds no training blocks."
    if summary is None: return f"\n{name}: " + json.dumps({k: v for k, v in d.items() if k != "raw"})[:2000]
    m = d["machine"]
    return (f"\n#### {name}\n\n`{d['command']}`  \n{machine_line(m)}; load average at start {m['load_start']}\n\n"
            + contender_table(summary) + "\n\n" + ratio_line(d.get("ratios", {})))
