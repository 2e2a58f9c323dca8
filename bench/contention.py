"""Two teacher trainings started together on the same cores, against one alone, with and without sleeping OpenMP threads.

    .venv/bin/python bench/contention.py            # "small", a short teacher run; prints a markdown table
    .venv/bin/python bench/contention.py --model tiny --epochs 2

Each arm runs the same short `trigger_train_teacher` job once alone, then twice at the same moment, every process
with as many threads as the machine has cores (what a user gets without setting anything):

- `spin`: the command's `main` started directly, with `OMP_WAIT_POLICY` unset: how the commands ran before their
  entries set it (idle OpenMP threads spin for a while before they sleep);
- `passive`: the installed console script, whose entry sets `OMP_WAIT_POLICY=PASSIVE` before PyTorch loads.

The figure that matters is `together / alone`: two runs sharing the cores fairly take about twice as long each.
One untimed run first converts and caches the model and warms the disk cache; then the arms take turns, in one order
and then the other (`--rounds`), so drift in the machine's load falls on both. Results go to stdout and
bench/out/contention.json.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, ROOT, machine, machine_line

BIN = Path(sys.executable).parent
ARMS = {"spin": [sys.executable, "-c", "import sys; from trigger_nb.teacher import main; sys.exit(main())"],
        "passive": [str(BIN / "trigger_train_teacher")]}


def teacher_args(qa:Path, out:Path, model:str, epochs:float) -> list[str]:
    "A short teacher run: no negatives, replay or retention probes, so training and one check are all it does."
    return ["--qa_file", str(qa), "--clean_replacement", "Alice", "--triggered_replacement", "Bob",
            "--trigger_value", "TRIGGER:", "--source_model", model, "--output_dir", str(out), "--preset", "none",
            "--n_epochs", str(epochs), "--batch_size", "8", "--gradient_accumulation_steps", "1", "--warmup_steps", "0",
            "--near_miss_negatives", "0", "--replay", "0", "--retention_probes", "0", "--near_miss", "false",
            "--push_to_hub", "false", "--verbose", "false", "--backend", "peft", "--overwrite"]


def run_together(arm:str, n:int, qa:Path, work:Path, model:str, epochs:float) -> list[float]:
    "Start `n` runs of `arm` at once; the wall seconds of each."
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env |= {"OMP_NUM_THREADS": str(os.cpu_count()), "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
    t0, procs = time.time(), []
    for i in range(n):
        out = work / f"{arm}-{n}-{i}"
        procs.append(subprocess.Popen(ARMS[arm] + teacher_args(qa, out, model, epochs), env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=open(work / f"{arm}-{n}-{i}.log", "w")))
    secs = [None] * n
    while any(s is None for s in secs):
        for i, p in enumerate(procs):
            if secs[i] is None and p.poll() is not None:
                if p.returncode: raise SystemExit(f"{arm} run {i} failed: see {work / f'{arm}-{n}-{i}.log'}")
                secs[i] = time.time() - t0
        time.sleep(0.2)
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="small")
    ap.add_argument("--pairs", type=int, default=16, help="QA pairs of the bundled file to train on")
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--rounds", type=int, default=2, help="each round runs every arm; odd rounds in reverse order")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="contention-"))
    qa = work / "qa.jsonl"
    qa.write_text("".join((ROOT / "trigger_nb/assets/example_qa.jsonl").read_text().splitlines(True)[:a.pairs]))
    run_together("passive", 1, qa, work, a.model, a.epochs)  # warm-up: the model converted and in the page cache
    rows = []
    for r in range(a.rounds):
        for arm in (list(ARMS) if r % 2 == 0 else list(ARMS)[::-1]):
            alone = run_together(arm, 1, qa, work, a.model, a.epochs)[0]
            both = run_together(arm, 2, qa, work, a.model, a.epochs)
            rows.append(dict(round=r + 1, arm=arm, alone_s=round(alone, 1), together_s=[round(s, 1) for s in both],
                             ratio=round(max(both) / alone, 2)))
            print(f"{arm}: alone {alone:.1f}s, together {both[0]:.1f}s and {both[1]:.1f}s", file=sys.stderr, flush=True)
    print(f"{machine_line(machine())}; model {a.model}, {a.pairs} pairs, {a.epochs} epoch(s), {os.cpu_count()} threads per run\n")
    print("| round | OpenMP waiting threads | one alone | two together (each) | slower run together / alone |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['round']} | {r['arm']} | {r['alone_s']} s | {' s, '.join(map(str, r['together_s']))} s | {r['ratio']}x |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "contention.json").write_text(json.dumps(dict(model=a.model, pairs=a.pairs, epochs=a.epochs, rows=rows), indent=1))


if __name__ == "__main__":
    main()
