"""Build the embedded tiny code model: an 8k byte-level BPE and a small Qwen2 warm-started by SFT, all on CPU.

Steps: (1) train a byte-level BPE on the interpreter's stdlib sources; (2) build chat-formatted SFT pairs
(user = instruction, assistant = a fenced Python block, loss on the assistant part only) from the train split of
`StdlibFunctions`, the MBPP train split (task ids 601-974) when ``--mbpp-dir`` holds ``mbpp.jsonl``, and optionally
the project's robot task generator; (3) train a random-init ``Qwen2ForCausalLM`` for a time or step budget;
(4) sample responses to heldout stdlib prompts and report how many parse and end with EOS; (5) save model, tokenizer
and a README into ``--out``.

Run from the repository root::

    .venv/bin/python scripts/build_tiny_model.py --sft-seconds 240

The run prints the number of SFT steps it made; ``--sft-steps N`` replays exactly that run (the learning-rate schedule
then follows steps instead of wall time), bit for bit on the same torch build, CPU and thread count.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lit_coderl.data.stdlib import StdlibFunctions, iter_python_files, read_utf8, stdlib_root  # noqa: E402
from lit_coderl.rewards.spans import extract_code_span  # noqa: E402

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [PAD, IM_START, IM_END]
#: the Qwen2 pre-tokenizer split (contractions, letter runs, single digits, punctuation runs, newlines, spaces)
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: ChatML, the shape of Qwen2.5's template without its default system prompt and tool-calling branches
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
MBPP_TRAIN_IDS = range(601, 975)
#: files a previous build may have left in --out; removed before saving so that no stale file survives
ARTEFACT_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "README.md",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("lit_coderl/assets/tiny-coder"), help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (data order, init, sampling)")
    parser.add_argument("--sft-seconds", type=float, default=240.0, help="SFT wall-time budget in seconds")
    parser.add_argument("--sft-steps", type=int, default=None, help="exact SFT steps (overrides --sft-seconds)")
    parser.add_argument("--vocab-size", type=int, default=8192, help="BPE vocabulary size, special tokens included")
    parser.add_argument("--hidden", type=int, default=128, help="hidden size (a multiple of 32)")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers")
    parser.add_argument("--intermediate", type=int, default=None, help="MLP size (default 4 x hidden)")
    parser.add_argument("--kv-heads", type=int, default=2, help="key/value heads (grouped-query attention)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    parser.add_argument("--warmup-steps", type=int, default=30, help="linear warm-up steps")
    parser.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per SFT batch")
    parser.add_argument("--max-response-tokens", type=int, default=256, help="skip pairs with a longer answer")
    parser.add_argument("--max-prompt-tokens", type=int, default=96, help="skip pairs with a longer prompt")
    parser.add_argument("--mbpp-dir", type=Path, default=Path("../shared/data/mbpp"), help="dir with mbpp.jsonl")
    parser.add_argument("--mbpp-repeats", type=int, default=2, help="times each MBPP train pair appears per epoch")
    parser.add_argument("--robot-tasks", type=int, default=0, help="add N tasks from lit_coderl.robot.generator")
    parser.add_argument("--eval-samples", type=int, default=32, help="sampled responses for the final report")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature of the final report")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.hidden % 32 or args.hidden <= 0:
        parser.error("--hidden must be a positive multiple of 32 (heads of size 32)")
    if (args.hidden // 32) % args.kv_heads:
        parser.error("--kv-heads must divide hidden/32")
    if args.vocab_size < 512:
        parser.error("--vocab-size must be at least 512")
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------- tokenizer


def tokenizer_corpus(root: Path) -> list[str]:
    """UTF-8 stdlib sources (test suites and site-packages excluded; non-UTF-8 files skipped)."""
    return [text for text in (read_utf8(path) for path in iter_python_files(root)) if text]


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE with the Qwen2 pipeline (NFC, regex split, byte level) and ChatML special tokens.

    The pipeline is exactly the one transformers 5 rebuilds for a ``qwen2`` checkpoint (it loads ``Qwen2Tokenizer``
    from the vocabulary and merges), so transformers 4 and 5 encode identically.
    """
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# ----------------------------------------------------------------------------------------------------- SFT data


@dataclass
class Pair:
    """One SFT example: chat messages and the code the assistant should answer with."""

    source: str
    messages: list[dict[str, str]]
    code: str
    """Bare code, or an answer that is already a fenced block (the robot generator's ``reference``)."""


def fenced(code: str) -> str:
    """The assistant's answer: ``code`` in a ```` ```python ```` block (an answer that is already fenced is kept)."""
    code = code.strip("\n")
    return code if code.startswith("```") else f"```python\n{code}\n```"


def normalise_mbpp_code(code: str) -> str | None:
    """MBPP code with LF line ends, tabs expanded and trailing spaces removed; None if it does not parse then."""
    lines = [line.rstrip().expandtabs(4) for line in code.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    try:
        ast.parse(text)
    except SyntaxError:
        return None
    return text


def mbpp_pairs(mbpp_dir: Path) -> list[Pair]:
    """MBPP train split (task ids 601-974, CC-BY-4.0) from ``mbpp_dir/mbpp.jsonl``; empty if the file is absent."""
    path = mbpp_dir / "mbpp.jsonl"
    if not path.is_file():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["task_id"] not in MBPP_TRAIN_IDS:
            continue
        code = normalise_mbpp_code(row["code"])
        if code is None:
            continue
        tests = "\n".join(row.get("test_list", []))
        prompt = f"{row['text']}\nYour code should pass these tests:\n{tests}" if tests else row["text"]
        pairs.append(Pair("mbpp", [{"role": "user", "content": prompt}], code))
    return pairs


def stdlib_pairs(seed: int) -> list[Pair]:
    """The train split of `StdlibFunctions`: the instruction and the function's source."""
    rows = StdlibFunctions(split="train", seed=seed).load()
    return [Pair("stdlib", row["messages"], row["reference"]) for row in rows]


def robot_pairs(n: int, seed: int) -> list[Pair]:
    """``n`` tasks of the project's robot task generator (imported only when asked for)."""
    if n <= 0:
        return []
    try:
        from lit_coderl.robot.generator import generate_tasks
    except ImportError as error:
        raise SystemExit(
            f"--robot-tasks {n} needs lit_coderl.robot.generator.generate_tasks(n, seed), which is not importable: "
            f"{error}"
        ) from error
    pairs = []
    for row in generate_tasks(n, seed):
        if not row.get("messages") or not row.get("reference"):
            raise SystemExit(f"robot task {row.get('task_id', '?')!r} lacks 'messages' or 'reference'")
        pairs.append(Pair("robot", list(row["messages"]), row["reference"]))
    return pairs


def encode_pairs(
    pairs: list[Pair], tokenizer: PreTrainedTokenizerFast, max_prompt: int, max_response: int
) -> list[tuple[list[int], int]]:
    """``(token ids, prompt length)`` per pair; the prompt and the answer are encoded separately, as in generation."""
    encoded = []
    for pair in pairs:
        prompt = tokenizer.apply_chat_template(pair.messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(fenced(pair.code) + IM_END, add_special_tokens=False)["input_ids"]
        if len(prompt_ids) <= max_prompt and len(answer_ids) <= max_response:
            encoded.append((prompt_ids + answer_ids, len(prompt_ids)))
    return encoded


def length_batches(
    examples: list[tuple[list[int], int]], batch_tokens: int, rng: random.Random
) -> list[list[tuple[list[int], int]]]:
    """Batches of similar length (at most ``batch_tokens`` padded tokens each), in a shuffled order."""
    order = sorted(examples, key=lambda e: (len(e[0]), rng.random()))
    batches: list[list[tuple[list[int], int]]] = []
    current: list[tuple[list[int], int]] = []
    for example in order:
        if current and (len(current) + 1) * len(example[0]) > batch_tokens:
            batches.append(current)
            current = []
        current.append(example)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(batch: list[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask and labels (-100 on prompt and padding)."""
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


# ---------------------------------------------------------------------------------------------------- model, SFT


def build_model(args: argparse.Namespace, tokenizer: PreTrainedTokenizerFast) -> Qwen2ForCausalLM:
    vocab = math.ceil(len(tokenizer) / 64) * 64
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate or 4 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 32,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        attention_dropout=0.0,
        rms_norm_eps=1e-6,
        bos_token_id=tokenizer.convert_tokens_to_ids(PAD),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(PAD),
    )
    return Qwen2ForCausalLM(config)


def learning_rate(progress: float, step: int, args: argparse.Namespace) -> float:
    """Linear warm-up, then cosine decay to 10 % of the peak over ``progress`` in [0, 1]."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    return args.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


def sft(model: Qwen2ForCausalLM, examples, pad_id: int, args: argparse.Namespace) -> dict:
    """Train until the step or time budget is spent; returns steps, epochs, tokens and the loss curve."""
    rng = random.Random(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    model.train()
    start = time.perf_counter()
    step, epoch, tokens, curve, window = 0, 0, 0, [], []
    while True:
        epoch += 1
        for batch in length_batches(examples, args.batch_tokens, rng):
            elapsed = time.perf_counter() - start
            progress = step / args.sft_steps if args.sft_steps else elapsed / args.sft_seconds
            if progress >= 1.0:
                model.eval()
                return {"steps": step, "epochs": epoch, "tokens": tokens, "seconds": elapsed, "curve": curve}
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(progress, step, args)
            inputs = collate(batch, pad_id)
            loss = model(**inputs).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            tokens += int(inputs["attention_mask"].sum())
            window.append(loss.item())
            if step % 25 == 0:
                curve.append((step, round(elapsed, 1), round(sum(window) / len(window), 3)))
                window = []
                print(f"  step {step:5d}  {elapsed:6.1f}s  epoch {epoch}  loss {curve[-1][2]:.3f}", flush=True)


def continue_sft(
    model, tokenizer, examples, out: Path, epochs: int, lr: float, batch_tokens: int, seed: int
) -> tuple[float, float]:
    """Fine-tune an existing model further (the warm starts): ``epochs`` passes at a constant ``lr``, no weight decay,
    a line printed per epoch; then save model and tokenizer to ``out``. Returns the last epoch's mean loss (NaN
    without epochs) and the seconds taken. Leaves the model in eval."""
    pad_id = tokenizer.pad_token_id
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.0)
    rng = random.Random(seed)
    model.train()
    start = time.perf_counter()
    mean_loss = float("nan")
    for epoch in range(1, epochs + 1):
        losses = []
        for batch in length_batches(examples, batch_tokens, rng):
            loss = model(**collate(batch, pad_id)).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
        mean_loss = sum(losses) / len(losses)
        print(f"  epoch {epoch:3d}  {time.perf_counter() - start:6.0f}s  loss {mean_loss:.3f}", flush=True)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return mean_loss, time.perf_counter() - start


# ------------------------------------------------------------------------------------------------------ report


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@torch.no_grad()
def sample_report(model, tokenizer, rows: list[dict], temperature: float, seed: int, max_new_tokens: int = 128):
    """Sample one response per row (batches of 16) and measure fences, ``def``, parse and EOS rates."""
    torch.manual_seed(seed)
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    texts, ended, gen_seconds = [], [], 0.0
    for start in range(0, len(rows), 16):
        chunk = rows[start : start + 16]
        prompts = [
            tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True) for row in chunk
        ]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        began = time.perf_counter()
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=temperature,
            top_p=1.0,
            top_k=0,
            max_new_tokens=max_new_tokens,
            eos_token_id=eos_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        gen_seconds += time.perf_counter() - began
        for row in out[:, batch["input_ids"].shape[1] :].tolist():
            ended.append(eos_id in row)
            texts.append(tokenizer.decode(row, skip_special_tokens=True))
    codes = [text[slice(*extract_code_span(text))] for text in texts]
    n = len(texts)
    stats = {
        "samples": n,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "opens_fence": sum(t.lstrip().startswith("```python") for t in texts) / n,
        "has_def": sum("def " in c for c in codes) / n,
        "closes_fence": sum(t.count("```") >= 2 for t in texts) / n,
        "parses": sum(parses(c) for c in codes) / n,
        "ends_with_eos": sum(ended) / n,
        "generate_seconds": round(gen_seconds, 2),
    }
    return stats, texts


@torch.no_grad()
def timed_generation(model, tokenizer, rows: list[dict], batch: int = 16, new_tokens: int = 128) -> float:
    """Seconds to sample exactly ``new_tokens`` tokens for ``batch`` prompts (KV cache, left padding)."""
    prompts = [
        tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)
        for row in (rows * batch)[:batch]
    ]
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    began = time.perf_counter()
    model.generate(
        **inputs,
        do_sample=True,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    return time.perf_counter() - began


def round_trip_ok(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> bool:
    return all(tokenizer.decode(tokenizer(t, add_special_tokens=False)["input_ids"]) == t for t in texts)


# ------------------------------------------------------------------------------------------------------- output


def save_artefact(out: Path, model, tokenizer, temperature: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ARTEFACT_FILES:
        (out / name).unlink(missing_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=[model.config.eos_token_id, model.config.pad_token_id],
        pad_token_id=model.config.pad_token_id,
        do_sample=True,
        temperature=temperature,
        top_p=1.0,
        top_k=0,
        max_new_tokens=128,
    )
    model.generation_config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    make_tokenizer_config_portable(out)
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600


def make_tokenizer_config_portable(out: Path) -> None:
    """Rewrite ``tokenizer_config.json`` in the form both transformers 4.46+ and 5.x load.

    transformers 5 saves ``extra_special_tokens`` as a list and the template as ``chat_template.jinja``, which 4.x
    reads as a dict (``AttributeError``) and ignores; it also names its own ``TokenizersBackend`` class, unknown to 4.x.
    """
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("backend", None)
    extra = config.pop("extra_special_tokens", None) or []
    config["additional_special_tokens"] = [t for t in (extra if isinstance(extra, list) else extra.values())]
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["chat_template"] = CHAT_TEMPLATE
    (out / "chat_template.jinja").unlink(missing_ok=True)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_reload(out: Path, model, tokenizer, texts: list[str]) -> None:
    """Load the saved artefact with the Auto classes and check it encodes and scores exactly like the built one."""
    loaded_tokenizer = AutoTokenizer.from_pretrained(out)
    loaded_model = AutoModelForCausalLM.from_pretrained(out)
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if loaded_tokenizer(text, add_special_tokens=False)["input_ids"] != ids:
            raise SystemExit(f"the reloaded tokenizer ({type(loaded_tokenizer).__name__}) encodes differently")
    probe = torch.tensor([tokenizer(texts[0][:2000], add_special_tokens=False)["input_ids"][:256]])
    with torch.no_grad():
        if not torch.equal(model(probe).logits, loaded_model(probe).logits):
            raise SystemExit("the reloaded model computes different logits")
    template = loaded_tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    if template != "<|im_start|>user\nx<|im_end|>\n":
        raise SystemExit(f"the reloaded chat template renders {template!r}")
    print(f"reload check passed ({type(loaded_tokenizer).__name__}, {type(loaded_model).__name__})")


def write_readme(out: Path, facts: dict) -> None:
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file() and p.name != "README.md")
    curve = "\n".join(f"| {s} | {t} | {loss} |" for s, t, loss in facts["sft"]["curve"])
    report = facts["report"]
    data = ", ".join(f"{k}: {v}" for k, v in facts["data"].items())
    text = f"""# tiny-coder: the embedded default model of lit_coderl

A randomly initialised **Qwen2ForCausalLM** ({facts["params"]:,} parameters, hidden {facts["hidden"]},
{facts["layers"]} layers, {facts["heads"]} heads / {facts["kv_heads"]} KV heads, tied embeddings, fp32) with an
{facts["vocab"]:,}-token byte-level BPE, warm-started by a few minutes of supervised fine-tuning on CPU so that it
answers a ChatML prompt with a fenced Python function. It exists so that tests and the offline demo run with no model
hub; it is not a useful code model. Files here: {size / 1e6:.1f} MB.

## How it was built

```
{facts["command"]}
```

(`scripts/build_tiny_model.py`, run from the repository root with `--mbpp-dir ../shared/data/mbpp` present; 1 torch
thread, torch {torch.__version__}, transformers {facts["transformers"]}.) With a fixed `--sft-steps` the run is
seeded and deterministic: the same command reproduces these weights on the same torch build, CPU type and thread
count. (`--sft-seconds T` instead stops after T seconds, so its step count depends on the machine; the script prints
the steps it made so the run can be pinned.)

- **Tokenizer:** `tokenizers` byte-level BPE, vocabulary {facts["vocab"]:,} (special tokens `<|endoftext|>` = pad,
  `<|im_start|>`, `<|im_end|>` = EOS, ids 0-2), Qwen2 pre-tokenizer split, trained on {facts["corpus_files"]:,} UTF-8
  `.py` files of the CPython {sys.version.split()[0]} standard library (test suites excluded). The pipeline is
  Qwen2's (NFC normaliser, Qwen2 regex split, byte level), so transformers 5, which loads a `qwen2` checkpoint's
  tokenizer as `Qwen2Tokenizer`, and transformers 4.46+ (`PreTrainedTokenizerFast`) encode identically; decoding
  is lossless for NFC-normalised text, i.e. for source code in practice.
  Chat template: ChatML as in Qwen2.5 (`<|im_start|>role\\ncontent<|im_end|>\\n`), no default system prompt;
  `add_generation_prompt=True` appends `<|im_start|>assistant\\n`.
- **SFT data** ({facts["sft_examples"]:,} pairs after length filtering; {data}): user = instruction, assistant =
  a ```` ```python ```` block with the code, then `<|im_end|>`; loss on the assistant tokens only.
  - `stdlib`: the train split of `lit_coderl.data.stdlib.StdlibFunctions` (documented stdlib functions; PSF licence).
  - `mbpp`: MBPP **train split only** (task ids 601-974, CC-BY-4.0, Austin et al. 2021), prompt = text plus its tests.
  - `robot`: tasks of `lit_coderl.robot.generator.generate_tasks` (when `--robot-tasks` > 0).
  No RoboEval or Robo-Instruct material, no MBPP test/validation/prompt tasks, no HumanEval.
- **SFT:** AdamW (lr {facts["lr"]}, betas 0.9/0.98, weight decay 0.01), {facts["warmup"]} warm-up steps then cosine
  decay to 10 %, gradient clip 1.0, length-bucketed batches of ≤ {facts["batch_tokens"]} tokens;
  {facts["sft"]["steps"]} steps ({facts["sft"]["tokens"]:,} tokens, {facts["sft"]["seconds"]:.0f} s).

| step | seconds | mean loss over the last 25 steps |
|---|---|---|
{curve}

## Samples

{report["samples"]} responses to heldout `StdlibFunctions` prompts, sampled at temperature {report["temperature"]},
at most {report["max_new_tokens"]} new tokens: open a ```` ```python ```` fence {report["opens_fence"]:.0%}, contain
`def ` {report["has_def"]:.0%}, close the fence {report["closes_fence"]:.0%}, end with `<|im_end|>`
{report["ends_with_eos"]:.0%}, code parses with `ast.parse` {report["parses"]:.0%} (the code is the first fenced
block, as `lit_coderl.rewards.spans.extract_code_span` finds it). Sampling 16 × 128 tokens took
{report["generate_16x128_seconds"]} s on 1 thread.

Example:

````
{facts["example"]}
````

## Licences

Weights and tokenizer: Apache-2.0, like lit_coderl. Training data: the CPython standard library (PSF License) and the
MBPP train split (CC-BY-4.0).
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    began = time.perf_counter()

    corpus = tokenizer_corpus(stdlib_root())
    tokenizer = train_tokenizer(corpus, args.vocab_size)
    probe = corpus[:: max(1, len(corpus) // 5)][:5]
    chars = sum(map(len, probe)) / sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in probe)
    print(
        f"tokenizer: {len(tokenizer)} tokens from {len(corpus)} files in {time.perf_counter() - began:.1f}s, "
        f"{chars:.2f} chars/token, lossless round trip: {round_trip_ok(tokenizer, probe)}",
        flush=True,
    )

    began = time.perf_counter()
    stdlib, mbpp, robot = stdlib_pairs(args.seed), mbpp_pairs(args.mbpp_dir), robot_pairs(args.robot_tasks, args.seed)
    pairs = stdlib + mbpp * args.mbpp_repeats + robot
    examples = encode_pairs(pairs, tokenizer, args.max_prompt_tokens, args.max_response_tokens)
    counts = {"stdlib": len(stdlib), "mbpp": len(mbpp), "robot": len(robot)}
    if not mbpp:
        print(f"note: no MBPP train data at {args.mbpp_dir} (optional)")
    mean_len = sum(len(ids) for ids, _ in examples) / max(1, len(examples))
    print(
        f"sft data: {counts} (mbpp x{args.mbpp_repeats}) -> {len(examples)} pairs within length limits, "
        f"mean {mean_len:.0f} tokens, {time.perf_counter() - began:.1f}s",
        flush=True,
    )
    if not examples:
        raise SystemExit("no SFT pairs within the length limits")

    seed_everything(args.seed)
    model = build_model(args, tokenizer)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: Qwen2 hidden {args.hidden} x {args.layers} layers, {params:,} parameters", flush=True)
    result = sft(model, examples, tokenizer.pad_token_id, args)
    print(f"sft: {result['steps']} steps, {result['tokens']:,} tokens, {result['seconds']:.0f}s", flush=True)

    heldout = StdlibFunctions(split="heldout", limit=args.eval_samples, seed=args.seed).load()
    report, texts = sample_report(model, tokenizer, heldout, args.temperature, args.seed)
    report["generate_16x128_seconds"] = round(timed_generation(model, tokenizer, heldout), 2)
    print("report:", json.dumps(report))
    for row, text in list(zip(heldout, texts, strict=True))[:3]:
        print(f"--- {row['messages'][0]['content']}\n{text}\n")

    save_artefact(args.out, model, tokenizer, args.temperature)
    check_reload(args.out, model, tokenizer, probe)
    command_args = [a for a in (argv if argv is not None else sys.argv[1:])]
    if "--sft-steps" not in command_args:
        command_args += ["--sft-steps", str(result["steps"])]
    example = next(
        (
            f"{r['messages'][0]['content']}\n\n{t}"
            for r, t in zip(heldout, texts, strict=True)
            if parses(t[slice(*extract_code_span(t))]) and "def " in t
        ),
        f"{heldout[0]['messages'][0]['content']}\n\n{texts[0]}",
    )
    write_readme(
        args.out,
        {
            "command": " ".join([".venv/bin/python scripts/build_tiny_model.py", *command_args]),
            "params": params,
            "hidden": args.hidden,
            "layers": args.layers,
            "heads": args.hidden // 32,
            "kv_heads": args.kv_heads,
            "vocab": len(tokenizer),
            "transformers": __import__("transformers").__version__,
            "corpus_files": len(corpus),
            "sft_examples": len(examples),
            "data": counts,
            "lr": args.lr,
            "warmup": args.warmup_steps,
            "batch_tokens": args.batch_tokens,
            "sft": result,
            "report": report,
            "example": example,
        },
    )
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"saved {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
