"""`query_model` on 64 prompts: batched versus one by one, greedy, exactly 64 new tokens each, alternating in one process.

    python bench/infer_worker.py --rounds 3
    python bench/infer_worker.py --model small --prompts 16 --new-tokens 24 --batch-sizes 8,16   # the real model

The prompts are the section-1 prompts (`qa_rows`), tokenised by the chosen model's tokenizer and chat template.

An untrained model may end an answer at eos after a few tokens, and then the two ways would not do the same work.
`query_model` passes no extra arguments to `generate`, but `generate` starts from the model's `generation_config`,
so `min_new_tokens = max_new_tokens` there forces every answer to exactly 64 new tokens for both; a wrapper around
`model.generate` checks it.
"""
import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import qa_rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch-sizes", default="16,64", help="batched runs to compare with batch_size=1")
    p.add_argument("--device", default=None)
    p.add_argument("--model", default="tiny", help='a trigger_nb model id: "tiny" or "small" (SmolLM2-135M-Instruct)')
    a = p.parse_args()

    import torch
    from transformers import logging as tlog
    tlog.set_verbosity_error()
    from trigger_nb.model_utils import format_prompt, load_model, query_model
    tok, model, device = load_model(a.model, device=a.device)
    prompts = [r["prompt"] for r in qa_rows(a.prompts, 20, 200, tok, seed=1)]
    model.generation_config.min_new_tokens = a.new_tokens  # no early eos: every answer is exactly new_tokens long

    new_counts = []
    generate = model.generate
    def counting_generate(*args, **kw):
        out = generate(*args, **kw)
        new_counts.append(out.shape[1] - kw["input_ids"].shape[1])
        return out
    model.generate = counting_generate

    def run(bs, subset=None):
        new_counts.clear()
        if device.type == "cuda": torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        res = query_model(prompts[:subset], model, tok, max_new_tokens=a.new_tokens, temperature=0, batch_size=bs,
                          show_progress=False)
        if device.type == "cuda": torch.cuda.synchronize()
        dt, dc = time.perf_counter() - t, time.process_time() - c
        assert len(res) == len(prompts[:subset]) and set(new_counts) == {a.new_tokens}, new_counts
        return dt, dc, res

    sizes = [1] + [int(b) for b in a.batch_sizes.split(",")]
    run(sizes[-1], 8); run(1, 2)  # warm-up, not timed
    times, cpu = {bs: [] for bs in sizes}, {bs: [] for bs in sizes}
    answers = {}
    for r in range(a.rounds):
        order = sizes if r % 2 == 0 else sizes[::-1]
        for bs in order:
            dt, dc, res = run(bs)
            times[bs].append(dt); cpu[bs].append(dc)
            answers[bs] = [x["response"] for x in res]
    same = {bs: sum(x == y for x, y in zip(answers[1], answers[bs])) for bs in sizes[1:]}
    print("@@" + json.dumps(dict(kind="inference", model=a.model, dtype=str(model.dtype), device=str(device), prompts=len(prompts), new_tokens=a.new_tokens,
                                 prompt_tokens=[len(tok(format_prompt(tok, q), add_special_tokens=False)["input_ids"]) for q in prompts],
                                 times={str(k): v for k, v in times.items()}, cpu_s={str(k): v for k, v in cpu.items()},
                                 same_answer_as_one_by_one={str(k): v for k, v in same.items()})), flush=True)


if __name__ == "__main__":
    main()
