"""The workload both sides of `vs_trl.py` run: prompts, sizes and hyper-parameters (plain Python, no imports).

Imported by `vs_trl.py` (any Python), `_ours_side.py` (project venv) and `_trl_side.py` (TRL 0.11.4 venv).
"""

from __future__ import annotations

import ast

# 16 short Python prefixes: the policy continues each one
PROMPTS = [
    "def add(a, b):\n",
    "def is_even(n):\n",
    "import os\n\ndef list_files(path):\n",
    "class Point:\n    def __init__(self, x, y):\n",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "for i in range(10):\n",
    "def reverse_string(s):\n",
    "import json\n\ndef load(path):\n",
    "def max_of(items):\n    best = items[0]\n",
    "def count_words(text):\n",
    "class Stack:\n",
    "def factorial(n):\n    if n == 0:\n",
    "with open('data.txt') as f:\n",
    "def merge(a, b):\n    result = []\n",
    "import math\n\ndef area(r):\n",
    "def flatten(xs):\n",
]

SETTINGS = {
    "batch_size": 16,
    "minibatch_size": 4,
    "ppo_epochs": 4,
    "new_tokens": 64,  # fixed response length: EOS/pad are suppressed while sampling (min = max new tokens)
    "temperature": 1.0,
    "learning_rate": 1e-5,
    "kl_coef": 0.2,  # fixed (TRL: adap_kl_ctrl=False), k1 per token in the reward on both sides
    "vf_coef": 0.1,
    "clip_range": 0.2,
    "clip_range_value": 0.2,
    "gamma": 1.0,
    "lam": 0.95,
    "seed": 0,
}


# GRPO (`vs_trl_grpo.py`): TRL GRPOTrainer's defaults where the workload does not fix a value
GRPO_SETTINGS = {
    "prompts": 4,  # per iteration; × num_generations = 16 answers, one optimizer step on all of them
    "num_generations": 4,
    "new_tokens": SETTINGS["new_tokens"],
    "temperature": 1.0,
    "learning_rate": 1e-5,
    "beta": 0.2,  # k3 KL in the loss
    "epsilon": 0.2,
    "max_grad_norm": 1.0,
    "seed": 0,
}


def parses(prompt: str, response: str) -> bool:
    """The rule-based reward of both sides: +1 if prompt + response parses as Python, else −1."""
    try:
        ast.parse(prompt + response)
    except (SyntaxError, ValueError):
        return False
    return True


def score(prompt: str, response: str) -> float:
    return 1.0 if parses(prompt, response) else -1.0
