"""Generation and training alone and two at once, under each OpenMP wait policy: the parts of bench/contention.py.

    .venv/bin/python bench/wait_policy.py            # 2 rounds alone, then each policy twice at once; prints a table

Each measurement is a fresh process with 2 threads: `load_model("small")`, `query_model` of 16 probe questions x 24
new tokens in one batch, then 3 forward+backward passes of 8 x 128 tokens.
"""
import os, subprocess, sys, time

POLICIES = {"spin (unset)": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "spin 10,000 then sleep": {"GOMP_SPINCOUNT": "10000"}}
WORK = """
import time
from trigger_nb.model_utils import load_model, query_model
from trigger_nb.data import general_prompts
import torch
tok, model, _ = load_model("small")
ps = [p["prompt"] for p in general_prompts("probe")[:16]]
t = time.time(); query_model(ps, model, tok, max_new_tokens=24, temperature=0, batch_size=16, show_progress=False)
gen = time.time() - t
x = torch.randint(0, 1000, (8, 128)); model.train(); t = time.time()
for _ in range(3): model(input_ids=x, labels=x).loss.backward()
print(gen, time.time() - t)
"""


def start(extra:dict) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env |= {"OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"} | extra
    return subprocess.Popen([sys.executable, "-c", WORK], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def times(procs) -> list[tuple[float, float]]:
    return [tuple(map(float, p.communicate()[0].split())) for p in procs]


def main():
    alone = {name: [] for name in POLICIES}
    for _ in range(2):
        for name, extra in POLICIES.items(): alone[name] += times([start(extra)])
    print("| waiting threads | generation alone | training alone | generation, two at once | training, two at once |\n|---|---|---|---|---|")
    for name, extra in POLICIES.items():
        both = times([start(extra), start(extra)])
        rng = lambda xs: f"{min(xs):.1f}-{max(xs):.1f} s"
        g, t = [a[0] for a in alone[name]], [a[1] for a in alone[name]]
        print(f"| {name} | {rng(g)} | {rng(t)} | {rng([b[0] for b in both])} ({max(b[0] for b in both) / min(g):.1f}x) "
              f"| {rng([b[1] for b in both])} ({max(b[1] for b in both) / min(t):.1f}x) |", flush=True)


if __name__ == "__main__":
    main()
