"""Shared pieces of the benchmarks: the seeded data, the models, memory probes and the machine description.

Every contender of a comparison gets the same token rows from `token_rows`, built once from a fixed seed, so the
figures differ only by what the trainer does with them.
"""
import datetime, json, os, platform, random, re
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"  # scratch (git-ignored): trainer output folders, per-run JSON
SHAPES = BENCH / "qwen2.5-shapes.json"  # published Qwen2.5 architecture numbers, for same-shaped models with random weights
MODELS = {"tiny": "tiny", "small": "small", "qwen0.5b": "Qwen2.5-0.5B", "qwen1.5b": "Qwen2.5-1.5B"}
REAL_MODELS = ("tiny", "small")  # trigger_nb's registered models, loaded with their own weights and tokenizers


# ---------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def rss_mib() -> float:
    "Resident set size of this process now, MiB."
    if Path("/proc/self/status").exists(): return _status_kib("VmRSS") / 1024
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def reset_peak_rss() -> bool:
    "Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False when it cannot."
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    "Peak RSS since the last `reset_peak_rss` (else since start), MiB."
    if Path("/proc/self/status").exists(): return _status_kib("VmHWM") / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lifetime_peak_rss_mib() -> float:
    "Peak RSS of the whole process, imports included (`getrusage` ru_maxrss), MiB."
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- machine
def machine() -> dict:
    "nproc, CPU model, RAM, torch version, GPU (if any), date."
    import torch
    cpu = platform.processor()
    try:
        cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M).group(1)
    except Exception: pass
    try: ram = round(int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 2**20, 1)
    except Exception: ram = None
    import transformers, trl
    info = dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), nproc=os.cpu_count(),
                affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                cpu=cpu, ram_gib=ram, torch=torch.__version__, torch_threads=torch.get_num_threads(),
                transformers=transformers.__version__, trl=trl.__version__, python=platform.python_version(),
                gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    return info


def machine_line(m: dict) -> str:
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"
    return (f"{m['date']}: nproc={m['nproc']} ({m['cpu']}), RAM {m['ram_gib']} GiB, torch {m['torch']} "
            f"({m['torch_threads']} threads), transformers {m['transformers']}, trl {m['trl']}{gpu}")


# ---------------------------------------------------------------- data
def _sentences() -> list[str]:
    "Filler sentences, in the tiny tokenizer's domain: the fixed text and the bundled answers."
    from trigger_nb.data import example_qa_path, load_qa_pairs
    from trigger_nb.tiny import _PROSE
    out = [s.strip() + "." for s in _PROSE.replace("\n", " ").split(".") if s.strip()]
    names = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi"]
    for i, p in enumerate(load_qa_pairs(example_qa_path())):
        out.append(p.answer.replace("{{name}}", names[i % len(names)]))
    return out


def qa_rows(n: int, min_tokens: int, max_tokens: int, tokenizer, seed: int = 0) -> list[dict]:
    "n QA-style rows (a question with some context, a multi-sentence answer) whose chat-formatted length is about uniform in [min_tokens, max_tokens]."
    from trigger_nb.data import example_qa_path, load_qa_pairs
    rng = random.Random(seed)
    pairs, sents = load_qa_pairs(example_qa_path()), _sentences()
    names = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
    cache = {}
    def ntok(text):  # token counts of the pieces, cached; a joined text is about the sum of its pieces
        if text not in cache: cache[text] = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        return cache[text]
    overhead = 12  # chat-template tokens around a user turn and an assistant turn
    rows = []
    for _ in range(n):
        target = rng.randint(min_tokens, max_tokens) - overhead
        pair, name = rng.choice(pairs), rng.choice(names)
        q, a = pair.question.replace("{{name}}", name), pair.answer.replace("{{name}}", name)
        share = rng.uniform(0.2, 0.6)  # part of the row that is prompt
        context, n_prompt = [], ntok(q) + 2
        while n_prompt < share * target:
            context.append(rng.choice(sents)); n_prompt += ntok(context[-1])
        answer, n_answer = [a], ntok(a)
        while n_prompt + n_answer < target:
            answer.append(rng.choice(sents)); n_answer += ntok(answer[-1])
        prompt = (" ".join(context) + "\nQuestion: " + q) if context else q
        rows.append(dict(prompt=prompt, completion=" ".join(answer), style="both"))
    return rows


def teacher_rows(n: int, seed: int = 42) -> list:
    """n teacher training rows as `train_teacher` makes them from the bundled QA pairs (`create_training_dataset`:
    a clean and a triggered row per pair and 2 near-miss negatives per question, subject "the person"; 192 rows per
    seed, further seeds appended when n is larger). No replay rows: those need the base model's own answers."""
    from trigger_nb.data import create_training_dataset, example_qa_path, load_qa_pairs
    pairs, rows, s = load_qa_pairs(example_qa_path()), [], seed
    while len(rows) < n:
        rows += create_training_dataset(pairs, "Alice", "TRIGGER:", "Bob", subject="the person", seed=s, near_miss_negatives=2)
        s += 1
    return rows[:n]


def token_rows(model_key: str, n: int, min_tokens: int, max_tokens: int, seed: int = 0):
    """The benchmark rows tokenised (`input_ids`, `labels`, `style_ids`) and the tokenizer, identical for every contender.

    "small" gets real text in its own tokenizer and chat template: the teacher's rows (`teacher_rows`; min_tokens and
    max_tokens do not apply, the rows are what they are: 43-58 tokens). The others get `qa_rows` in the tiny tokenizer."""
    from trigger_nb.model_utils import load_tokenizer
    from trigger_nb.trainer import tokenize_rows
    if model_key == "small":
        tok = load_tokenizer("small")
        ds = tokenize_rows(teacher_rows(n, seed + 42), tok, default_style="both")
        return {k: list(ds[k]) for k in ("input_ids", "labels", "style_ids")}, tok
    tok = load_tokenizer("tiny")
    rows = qa_rows(n, min_tokens, max_tokens, tok, seed)
    # cut here rather than with tokenize_rows(max_seq_length=...): its warning path needs `import warnings` in trainer.py
    ds = tokenize_rows(rows, tok, default_style="both")
    data = {k: [r[:max_tokens] for r in ds[k]] for k in ("input_ids", "labels", "style_ids")}
    if model_key != "tiny":  # same rows, ids spread over the big vocabulary by a fixed map (special ids kept)
        vocab = model_shape(model_key)["vocab_size"]
        idmap = id_map(len(tok), vocab, seed)
        data["input_ids"] = [[idmap[t] for t in r] for r in data["input_ids"]]
        data["labels"] = [[idmap[t] if t != -100 else -100 for t in r] for r in data["labels"]]
    return data, tok


def id_map(small: int, big: int, seed: int = 0) -> list[int]:
    "A fixed injective map of the tiny tokenizer's ids into a big vocabulary; the special ids 0-2 map to themselves."
    rng = random.Random(seed + 1)
    rest = rng.sample(range(3, big), small - 3)
    return [0, 1, 2] + rest


def model_shape(model_key: str) -> dict:
    name = MODELS[model_key]
    return {k: v for k, v in json.loads(SHAPES.read_text())[name].items() if not k.startswith("_")}


def build_model(model_key: str, device: str, dtype=None, seed: int = 0):
    "The benchmark model on `device`: trigger_nb's tiny or small one, or a Qwen2.5-shaped one with seeded random weights."
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    if model_key in REAL_MODELS:
        from trigger_nb.model_utils import load_model
        _, model, _ = load_model(model_key, device=device, dtype=dtype)
        return model
    cfg = Qwen2Config(**model_shape(model_key), bos_token_id=None, eos_token_id=2, pad_token_id=0)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg)
    return model.to(dtype or torch.float32)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def mem_key(summary: dict) -> str:
    "Which memory a section's summary measured: \"gpu\" (torch's allocator) or \"rss\" (the process, on CPU)."
    return "gpu" if any("gpu_peak_mib" in s for s in summary.values()) else "rss"


# ---------------------------------------------------------------- model FLOPs utilisation
PEAK_BF16_TFLOPS = [  # dense bf16 tensor-core peaks from the vendors' data sheets; the first name found in the device name wins
    ("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("GH200", 989.0), ("B200", 2250.0), ("A100", 312.0),
    ("L40S", 362.0), ("L4", 121.0)]


def peak_bf16_tflops(device_name: str) -> float | None:
    "The GPU's dense bf16 peak in TFLOP/s (GPU_PEAK_TFLOPS overrides), or None when it is not in the table."
    if os.environ.get("GPU_PEAK_TFLOPS"): return float(os.environ["GPU_PEAK_TFLOPS"])
    return next((t for name, t in PEAK_BF16_TFLOPS if name in device_name), None)


def train_flops_per_token(shape: dict, seq: float, lora: bool = False) -> float:
    """Model FLOPs of one trained token (PaLM's count): 6 per weight of every matmul, the output head included, plus
    12 * layers * hidden * seq for attention; with LoRA the frozen weights get no weight gradient, so 4 per weight."""
    d, i, L = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = shape["num_key_value_heads"] * d // shape["num_attention_heads"]
    matmul = L * (2 * d * d + 2 * d * kv + 3 * d * i) + shape["vocab_size"] * d
    return (4 if lora else 6) * matmul + 12 * L * d * seq
