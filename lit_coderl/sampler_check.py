"""How far the sampler's log-probs may be from training's before they stop counting as the same distribution.

``old_logprobs: sampler`` reuses the log-probs the sampler drew each token with as PPO's old log-probs. Training
recomputes over the whole sequence; the two differ by rounding (KV-cache vs full-sequence attention), which grows with
the precision's machine epsilon, or by a logits processor whose change training does not repeat, which moves whole
tokens' probabilities.
"""

from __future__ import annotations

import torch


def compute_dtype(module) -> torch.dtype:
    """The least precise of the trainer's precision (``bf16-mixed``, ``16-mixed``, ...) and the policy's weights
    (DeepSpeed's bf16 engine casts them): the precision the log-probs are computed in."""
    dtypes = [next(module.net.policy.parameters()).dtype]
    precision = str(module.trainer.precision) if module._trainer is not None else ""
    if precision.startswith("bf16"):
        dtypes.append(torch.bfloat16)
    elif precision.startswith("16"):
        dtypes.append(torch.float16)
    return max(dtypes, key=lambda d: torch.finfo(d).eps if d.is_floating_point else 0.0)


def sampler_gap_threshold(dtype: torch.dtype) -> float:
    """Largest mean gap (nats/token) between the sampler's and training's log-probs that rounding explains: 1e-3,
    or two machine epsilons of ``dtype`` where that is more (bfloat16: 0.0156; measured bf16 gaps are ~4e-3 on
    Qwen2.5-Coder-shaped models, fp32 ~5e-7). A logits processor that training does not repeat moves whole tokens'
    probabilities, far above either."""
    return max(1e-3, 2.0 * torch.finfo(dtype).eps)
