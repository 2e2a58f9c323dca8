"""One contender's training steps, in its own process so that its peak memory is its own.

    python bench/train_worker.py --contender adaptive --model tiny --batch 8 --blocks 6 --block-steps 10

Contenders, all on the same model weights, token rows, batch order, optimizer and precision:

- `adaptive` / `ce`: trigger_nb's `AdaptiveTrainer` with `loss="adaptive"` / `loss="ce"` (rows padded per batch).
- `trl`: trl's `SFTTrainer`, plain NLL, on the same tokenised rows (`input_ids` + `labels`, padded per batch).
- `at006`: `AdaptiveTrainer` of adaptive-trainer 0.0.6 (PyPI), fed as its `train_adaptively` feeds it: rows
  left-padded to `max_length`, `DataCollatorForLanguageModeling(mlm=False)` labels, the assistant header as
  `output_demarkation_token_ids`, `label_names` as it sets them. Its README's fp16 and 8-bit paged AdamW are not
  used (CPU; same optimizer for everyone); `--at006-gc` turns on its README's gradient checkpointing.
- `teacher`: trigger_nb's `AdaptiveTrainer(loss="ce")` on a PEFT LoRA model (r=8 on q/k/v/o/gate/up/down);
  `teacher-adaptive`: the same with `loss="adaptive"`; `trl-lora`: trl's `SFTTrainer` on the same LoRA model;
  `trl-lora-defaults`: the same, but with trl's `SFTConfig` defaults for precision and checkpointing (bf16 and
  gradient checkpointing on, even on a CPU) instead of the settings every other contender shares.

Timing: `--warmup` steps, then `--blocks` blocks of `--block-steps` optimizer steps. With `--interactive` the worker
stops after each block, prints its figures as one `@@{json}` line and waits for `go` (or `stop`) on stdin, so a
driver can alternate contenders block by block (A B A B ...). Memory: after the model and trainer are built the peak
marks are reset (peak RSS via /proc/self/clear_refs; `torch.cuda.reset_peak_memory_stats` on GPU), so the reported
training peak and its increase over that baseline are the training's own; the lifetime peak (imports included) is
reported too.
"""
import argparse, json, os, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, build_model, lifetime_peak_rss_mib, peak_rss_mib, reset_peak_rss, rss_mib, token_rows

CONTENDERS = ("adaptive", "ce", "trl", "at006", "teacher", "teacher-adaptive", "trl-lora", "trl-lora-defaults")
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def emit(obj):
    print("@@" + json.dumps(obj), flush=True)


class TokenCounter:
    "Wraps a collator, recording each batch's real (non-pad) and padded token counts in call order."
    def __init__(self, collate): self.collate, self.real, self.padded = collate, [], []
    def __call__(self, features):
        batch = self.collate(features)
        self.real.append(int(batch["attention_mask"].sum()))
        self.padded.append(int(batch["input_ids"].numel()))
        return batch


class PackedCollator:
    "What-if: the batch's rows end to end in one row with restarting position_ids and no padding (no attention_mask)."
    def __call__(self, features):
        import torch
        cat = lambda key: torch.tensor([[t for f in features for t in f[key]]])
        labels = [list(f["labels"]) for f in features]
        for l in labels: l[0] = -100  # the last token of a row must not learn the next row's first token
        batch = {"input_ids": cat("input_ids"), "labels": torch.tensor([[t for l in labels for t in l]]),
                 "style_ids": cat("style_ids"),
                 "position_ids": torch.tensor([[i for f in features for i in range(len(f["input_ids"]))]])}
        return batch


class PackedCounter(TokenCounter):
    def __call__(self, features):
        batch = self.collate(features)
        self.real.append(int(batch["input_ids"].numel())); self.padded.append(int(batch["input_ids"].numel()))
        return batch


def common_args(a, device):
    "Training arguments shared by every contender."
    import torch
    cuda = device == "cuda"
    return dict(output_dir=str(OUT / f"train-{a.contender}-{os.getpid()}"), per_device_train_batch_size=a.batch,
                gradient_accumulation_steps=1, max_steps=a.warmup + a.blocks * a.block_steps, learning_rate=1e-5,
                lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, optim="adamw_torch",
                logging_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True, seed=42,
                data_seed=42, use_cpu=not cuda, bf16=cuda and torch.cuda.is_bf16_supported(), fp16=False,
                dataloader_pin_memory=cuda, dataloader_num_workers=0, gradient_checkpointing=False,
                train_sampling_strategy=a.sampler)


def import_at006():
    "adaptive_trainer 0.0.6's package; its __init__ imports wandb (only train_adaptively uses it): stub it when absent."
    import types
    try: import wandb  # noqa: F401
    except ImportError: sys.modules["wandb"] = types.ModuleType("wandb")
    import adaptive_trainer
    return adaptive_trainer


def at006_rows(data, tok, max_length, model_key):
    "The rows as adaptive-trainer 0.0.6 prepares them: left-padded to max_length, attention mask, learning style."
    from datasets import Dataset
    pad = tok.pad_token_id
    ids = [[pad] * (max_length - len(r)) + list(r) for r in data["input_ids"]]
    mask = [[0] * (max_length - len(r)) + [1] * len(r) for r in data["input_ids"]]
    ds = Dataset.from_dict({"input_ids": ids, "attention_mask": mask, "learning_style": ["both"] * len(ids)})
    ds.set_format("torch", columns=["input_ids", "attention_mask", "learning_style"])
    return ds


def at006_demarkation_ids(tok, model_key, seed=0):
    "The assistant-header token ids train_adaptively derives from the chat template (mapped like the rows)."
    import_at006()
    from adaptive_trainer.config import TokenizerConfig
    cfg, _ = TokenizerConfig.from_model_name("tiny", tok)
    empty = len(tok("")["input_ids"])
    ids = tok(cfg.assistant_header.strip())["input_ids"][empty:]
    if model_key != "tiny":
        from common import id_map, model_shape
        m = id_map(len(tok), model_shape(model_key)["vocab_size"], seed)
        ids = [m[i] for i in ids]
    return ids


def lora(model):
    "The model with fresh LoRA layers as the teacher puts them (trigger_nb.pipeline.lora_config of the teacher's settings)."
    from peft import get_peft_model
    from trigger_nb.pipeline import lora_config
    from trigger_nb.teacher import TeacherConfig, lora_fields
    from transformers import set_seed
    cfg = lora_config(lora_fields(TeacherConfig(qa_file="x.jsonl", clean_replacement="a", trigger_value="T:", triggered_replacement="b")))
    assert cfg.r == 8 and set(cfg.target_modules) == set(LORA_TARGETS)
    set_seed(42)  # the same LoRA initialisation for every contender (as load_training_model seeds it)
    return get_peft_model(model, cfg)


def build_trainer(a, device, model, data, tok):
    "The contender's trainer, its token counter."
    from datasets import Dataset
    args = common_args(a, device)
    c = a.contender
    if c in ("teacher", "teacher-adaptive", "trl-lora") and device == "cuda":
        args["gradient_checkpointing"] = True  # the teacher's default on GPUs (trigger_nb.teacher._teacher_args)
    if c == "trl-lora-defaults":  # what SFTConfig gives a user who sets neither (trl: bf16 and checkpointing on)
        for k in ("bf16", "fp16", "gradient_checkpointing"): args.pop(k)
    if c in ("adaptive", "ce", "teacher", "teacher-adaptive"):
        from trigger_nb.trainer import AdaptiveTrainer, CompletionCollator
        from trl import SFTConfig
        counter = PackedCounter(PackedCollator()) if a.packed else TokenCounter(CompletionCollator(tok.pad_token_id))
        if a.loss_impl == "previous":
            from loss_variants import use_previous
            use_previous()
        if c.startswith("teacher"): model = lora(model)
        trainer = AdaptiveTrainer(model, args=SFTConfig(**args, max_length=None), train_dataset=Dataset.from_dict(data),
                                  processing_class=tok, data_collator=counter,
                                  loss="adaptive" if c in ("adaptive", "teacher-adaptive") else "ce",
                                  top_k=a.top_k, chunk_size=a.chunk_size)
    elif c in ("trl", "trl-lora", "trl-lora-defaults"):
        from trl import SFTConfig, SFTTrainer
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
        counter = TokenCounter(DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id))
        if c != "trl": model = lora(model)
        ds = Dataset.from_dict({"input_ids": data["input_ids"], "labels": data["labels"]})
        trainer = SFTTrainer(model, args=SFTConfig(**args, max_length=None), train_dataset=ds, processing_class=tok,
                             data_collator=counter)
    elif c == "at006":
        at = import_at006()
        AT, CustomDataCollator = at.AdaptiveTrainer, at.CustomDataCollator
        from transformers import TrainingArguments
        tok.padding_side = "left"
        if a.at006_gc:
            args["gradient_checkpointing"] = True
        for p in model.parameters(): p.requires_grad = True
        counter = TokenCounter(CustomDataCollator(tokenizer=tok, mlm=False))
        targs = TrainingArguments(**args, label_names=["input_ids", "attention_mask", "labels", "learning_style"])
        trainer = AT(model=model, args=targs, train_dataset=at006_rows(data, tok, a.max_length, a.model),
                     data_collator=counter, processing_class=tok,
                     output_demarkation_token_ids=at006_demarkation_ids(tok, a.model), top_k=a.top_k,
                     stats_save_path=str(OUT / f"at006-stats-{os.getpid()}.json"), log_metric_steps=100)
    else:
        raise SystemExit(f"unknown contender {c!r}: use one of {', '.join(CONTENDERS)}")
    return trainer, counter


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contender", required=True, choices=CONTENDERS)
    p.add_argument("--model", default="tiny", choices=["tiny", "small", "qwen0.5b", "qwen1.5b"])
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--rows", type=int, default=512)
    p.add_argument("--min-tokens", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=200, help="longest row; adaptive-trainer pads every row to this")
    p.add_argument("--max-length", type=int, default=None, help="adaptive-trainer's padded length (default: --max-tokens)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--block-steps", type=int, default=10)
    p.add_argument("--top-k", type=int, default=8)
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--at006-gc", action="store_true", help="adaptive-trainer with its README's gradient checkpointing")
    p.add_argument("--sampler", default="random", choices=["random", "group_by_length"],
                   help="what-if: transformers' train_sampling_strategy")
    p.add_argument("--packed", action="store_true", help="what-if (adaptive/ce/teacher): rows end to end, no padding")
    p.add_argument("--loss-impl", default="library", choices=["library", "previous"],
                   help="adaptive/ce/teacher: the library's chunk body, or the previous one kept in bench/loss_variants.py")
    p.add_argument("--interactive", action="store_true", help="wait for 'go' on stdin after each block")
    p.add_argument("--profile", default=None, help="write a torch.profiler table of one timed block here")
    a = p.parse_args()
    a.max_length = a.max_length or a.max_tokens
    if a.max_length < a.max_tokens: raise SystemExit("--max-length must be at least --max-tokens (adaptive-trainer drops longer rows)")

    import torch
    from transformers import TrainerCallback, logging as tlog
    tlog.set_verbosity_error()
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device == "cuda" else torch.float32
    t0 = time.perf_counter()
    data, tok = token_rows(a.model, a.rows, a.min_tokens, a.max_tokens)
    model = build_model(a.model, device, dtype)
    trainer, counter = build_trainer(a, device, model, data, tok)
    setup_s = time.perf_counter() - t0
    if device == "cuda":
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated() / 2**20
    base_rss = rss_mib()
    reset_ok = reset_peak_rss()

    def memory():
        m = dict(rss_baseline_mib=base_rss, rss_peak_mib=peak_rss_mib(), rss_lifetime_peak_mib=lifetime_peak_rss_mib(),
                 peak_reset=reset_ok)
        m["rss_increase_mib"] = m["rss_peak_mib"] - base_rss
        if device == "cuda":
            m.update(gpu_baseline_mib=base_gpu, gpu_peak_mib=torch.cuda.max_memory_allocated() / 2**20)
            m["gpu_increase_mib"] = m["gpu_peak_mib"] - base_gpu
        return m

    class Pacer(TrainerCallback):
        "Times each optimizer step (end to end, data included) and pauses between blocks."
        def __init__(self): self.step, self.times, self.cpu, self.last, self.last_cpu, self.prof = 0, [], [], None, None, None
        def on_train_begin(self, *args, **kw): self.last, self.last_cpu = time.perf_counter(), time.process_time()
        def on_step_end(self, args, state, control, **kw):
            if device == "cuda": torch.cuda.synchronize()
            now, now_cpu = time.perf_counter(), time.process_time()
            self.times.append(now - self.last); self.cpu.append(now_cpu - self.last_cpu)
            self.step += 1
            done = self.step - a.warmup
            if a.profile and done == 0: self._start_profile()
            if done > 0 and done % a.block_steps == 0:
                if self.prof is not None: self._stop_profile()
                lo, hi = a.warmup + done - a.block_steps, a.warmup + done
                emit(dict(kind="block", contender=a.contender, block=done // a.block_steps, step_s=self.times[lo:hi], cpu_s=self.cpu[lo:hi],
                          real_tokens=counter.real[lo:hi], padded_tokens=counter.padded[lo:hi], **memory()))
                if a.interactive and done < a.blocks * a.block_steps:
                    cmd = sys.stdin.readline().strip()
                    if cmd != "go": control.should_training_stop = True
            self.last, self.last_cpu = time.perf_counter(), time.process_time()
            return control
        def _start_profile(self):
            self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU] +
                                               ([torch.profiler.ProfilerActivity.CUDA] if device == "cuda" else []),
                                               profile_memory=True, record_shapes=False)
            self.prof.__enter__()
        def _stop_profile(self):
            self.prof.__exit__(None, None, None)
            key = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
            Path(a.profile).write_text(self.prof.key_averages().table(sort_by=key, row_limit=40))
            self.prof = None

    trainer.add_callback(Pacer())
    emit(dict(kind="ready", contender=a.contender, setup_s=setup_s, device=device, dtype=str(dtype),
              params=sum(p.numel() for p in model.parameters()),
              trainable=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad), **memory()))
    if a.interactive and sys.stdin.readline().strip() != "go": return
    trainer.train()
    emit(dict(kind="done", contender=a.contender, **memory()))


if __name__ == "__main__":
    main()
