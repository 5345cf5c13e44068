"""Building the policy (+LoRA), the reference and the critic; the embedded tiny model.

Knows transformers and peft, not Lightning. The reference policy is never a second copy when LoRA is on: it is the
same network with the adapter disabled.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

TINY_MODEL_DIR = Path(__file__).parent / "assets" / "tiny-coder"
TINY_ALIASES = ("tiny", "lit_coderl/tiny-coder", "tiny-coder")


@dataclass
class LoraOptions:
    """LoRA adapter on the policy (peft)."""

    enabled: bool = True
    """Train a LoRA adapter instead of all weights; the reference is then the base with the adapter disabled."""
    r: int = 16
    """Adapter rank."""
    alpha: int = 32
    """Scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = 0.0
    """Dropout inside the adapter. 0 keeps old and new log-probs consistent (ratio 1 at the first PPO epoch); the
    paper used 0.05."""
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    """Module names that get an adapter."""


@dataclass
class ModelOptions:
    """Which model to fine-tune and how."""

    name_or_path: str = "tiny"
    """Hugging Face hub id (e.g. ``Qwen/Qwen2.5-Coder-1.5B-Instruct``), a local directory, ``tiny`` for the
    embedded offline model shipped with the package, or a named offline model (``smollm2-135m-instruct``: fetched
    once with ``python -m lit_coderl models fetch NAME``)."""
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    """Weights' dtype. Use bfloat16 on GPUs that support it (value head and losses stay float32)."""
    lora: LoraOptions = field(default_factory=LoraOptions)
    """LoRA settings."""
    critic: Literal["head", "adapter", "model", "none"] = "head"
    """Value function: ``head``, a linear head on the policy's hidden states (detached: the value loss never trains
    the policy); ``adapter``, a second LoRA adapter on the same frozen base (decoupled critic, no second copy);
    ``model``, a separate model (``critic_path``); ``none``, no critic at all (implied by the critic-free
    ``ppo.advantage: rloo | grpo``)."""
    critic_path: str | None = None
    """Model of ``critic: model`` (default: the policy's ``name_or_path``)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower); switched off during generation."""
    trust_remote_code: bool = False
    """Allow model code from the hub (needed by some architectures)."""


def resolve_model_path(name_or_path: str) -> str:
    """The embedded tiny model for its aliases, a named offline model's cache folder (`lit_coderl.model_store`; a
    one-line FileNotFoundError naming ``models fetch`` when it is not fetched), else the argument unchanged."""
    from lit_coderl.model_store import is_named_model, resolve_named_model

    if is_named_model(name_or_path):
        return resolve_named_model(name_or_path)
    if name_or_path in TINY_ALIASES:
        if not (TINY_MODEL_DIR / "config.json").exists():
            raise FileNotFoundError(
                f"the embedded tiny model is missing at {TINY_MODEL_DIR}; rebuild it with "
                "`python scripts/build_tiny_model.py`"
            )
        return str(TINY_MODEL_DIR)
    return name_or_path


def _looks_local(name_or_path: str) -> bool:
    # hub ids are "org/name": one slash, no leading dot, slash or tilde
    return name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    """Tokenizer with left padding (batched generation) and a pad token."""
    from transformers import AutoTokenizer

    path = resolve_model_path(name_or_path)
    tokenizer = _from_pretrained(AutoTokenizer, path, trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(options: ModelOptions, name_or_path: str | None = None) -> nn.Module:
    """An HF causal LM with dropout off, wrapped in a LoRA adapter when enabled."""
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name_or_path or options.name_or_path)
    dtype = "auto" if options.dtype == "auto" else getattr(torch, options.dtype)
    model = _from_pretrained(AutoModelForCausalLM, path, dtype=dtype, trust_remote_code=options.trust_remote_code)
    disable_dropout(model)
    if options.lora.enabled:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(options.lora, model))
        disable_dropout(model)
    if options.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def lora_config(lora: LoraOptions, model: nn.Module):
    """A peft `LoraConfig` for the target modules that exist in ``model``."""
    from peft import LoraConfig

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [m for m in lora.target_modules if m in present]
    if not targets:
        raise ValueError(
            f"none of the LoRA target modules {lora.target_modules} exist in the model; "
            f"available leaf names include {sorted(present)[:20]}"
        )
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def build_networks(options: ModelOptions) -> PolicyAndValue:
    """Policy, critic and (implicitly) reference as configured."""
    policy = load_causal_lm(options)
    critic_model = critic_lora = None
    if options.critic == "model":
        critic_model = load_causal_lm(options, options.critic_path or options.name_or_path)
    elif options.critic == "adapter":
        critic_lora = lora_config(options.lora, policy) if options.lora.enabled else None
    return PolicyAndValue(
        policy,
        frozen_reference=not options.lora.enabled,
        critic=options.critic,
        critic_model=critic_model,
        critic_lora=critic_lora,
    )


def _from_pretrained(cls, path: str, **kwargs):
    if _looks_local(path) and not Path(path).expanduser().exists():
        raise FileNotFoundError(f"model path {path!r} does not exist")
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as err:
        raise OSError(
            f"could not load {path!r}: {err}\n"
            "If this is a hub id, the hub may be unreachable (offline machine?): download the model elsewhere and pass "
            "its local directory, or use `tiny` for the embedded offline model."
        ) from err


def disable_dropout(model: nn.Module) -> None:
    """Dropout breaks the consistency of old and new log-probs, so PPO runs without it (as TRL does)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    config = getattr(model, "config", None)
    for key in ("attention_dropout", "hidden_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop", "dropout"):
        if config is not None and isinstance(getattr(config, key, None), float):
            setattr(config, key, 0.0)


class ValueHead(nn.Module):
    """Linear value head on the policy's last hidden state (shared backbone, as TRL v0.11 and trlx)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)
        # start from V ≈ 0: the first GAE then sees the rewards themselves as advantages
        nn.init.normal_(self.summary.weight, std=1.0 / (hidden_size + 1) ** 0.5 * 0.1)
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # float32 even under bf16-mixed autocast: values are regression targets with small differences (GAE). The
        # input takes the head's dtype: DeepSpeed's bf16 engine casts every parameter, this head's included
        with torch.autocast(hidden.device.type, enabled=False):
            return self.summary(hidden.to(self.summary.weight.dtype)).squeeze(-1).float()


CriticMode = Literal["head", "adapter", "model", "none"]


class PolicyAndValue(nn.Module):
    """The trained networks: the policy LM (with LoRA or not) and the critic; the reference is derived.

    Critic modes:
    - ``head``: a value head on the policy's last hidden state, read detached: the value loss trains the head
      only (TRL v0.11, trlx and PPOCoder share the backbone with the value loss; a critic that trains weights of
      its own is ``adapter`` or ``model``).
    - ``adapter``: a second LoRA adapter (``critic``) on the same frozen base with its own head: a decoupled critic
      without a second model copy (needs LoRA).
    - ``model``: a separate model (``critic_model``) with its own head.
    - ``none``: no critic, no value head (the group-baseline estimators); ``forward`` returns no values.

    The reference is the policy inside ``disable_adapter()`` with LoRA; a frozen copy otherwise.
    """

    def __init__(
        self,
        policy: nn.Module,
        frozen_reference: bool,
        critic: CriticMode = "head",
        critic_model: nn.Module | None = None,
        critic_lora=None,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.critic_mode = critic
        self.critic_model: nn.Module | None = None
        if critic == "adapter":
            if not self.uses_adapter or critic_lora is None:
                raise ValueError("critic: adapter needs LoRA on the policy (model.lora.enabled: true)")
            policy.add_adapter("critic", critic_lora)
            policy.set_adapter("default")
            self._lora_params = [p for n, p in policy.named_parameters() if "lora_" in n]
            self._enable_all_adapters()
        elif critic == "model":
            if critic_model is None:
                raise ValueError("critic: model needs a critic model")
            self.critic_model = critic_model
        elif critic not in ("head", "none"):
            raise ValueError(f"unknown critic mode {critic!r}; expected head, adapter, model or none")
        source = critic_model if critic == "model" else policy
        self.value_head = None if critic == "none" else ValueHead(_hidden_size(source.config))
        self.reference: nn.Module | None = None
        if frozen_reference:
            # full fine-tuning: the reference must be a frozen copy taken before any update
            self.reference = copy.deepcopy(policy).requires_grad_(False).eval()

    @property
    def uses_adapter(self) -> bool:
        return hasattr(self.policy, "disable_adapter")

    def reference_context(self):
        """Context in which ``self.policy`` computes reference log-probs (adapter disabled), or a no-op."""
        return self.policy.disable_adapter() if self.uses_adapter else contextlib.nullcontext()

    def reference_model(self) -> nn.Module:
        return self.policy if self.reference is None else self.reference

    def policy_parameters(self) -> list[nn.Parameter]:
        """Trainable weights of the policy (its LoRA adapter, or all its weights)."""
        critic_ids = {id(p) for p in self.critic_parameters()}
        return [p for p in self.policy.parameters() if p.requires_grad and id(p) not in critic_ids]

    def critic_parameters(self) -> list[nn.Parameter]:
        """Trainable weights of the critic: the value head plus the critic adapter or model."""
        if self.value_head is None:
            return []
        params = list(self.value_head.parameters())
        if self.critic_mode == "adapter":
            params += [p for n, p in self.policy.named_parameters() if "lora_" in n and ".critic." in n]
        elif self.critic_mode == "model":
            params += [p for p in self.critic_model.parameters() if p.requires_grad]
        return params

    def _enable_all_adapters(self) -> None:
        # peft freezes inactive adapters on set_adapter; both are trained, each in its own forward pass
        for param in self._lora_params:
            param.requires_grad_(True)

    def _run(self, model, input_ids, attention_mask, position_ids, hidden: bool, logits_to_keep: int = 0):
        kwargs = {"logits_to_keep": logits_to_keep} if logits_to_keep and accepts_logits_to_keep(model) else {}
        return model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_hidden_states=hidden,
            use_cache=False,
            **kwargs,
        )

    def forward(self, input_ids, attention_mask, position_ids, with_values: bool = True, logits_to_keep: int = 0):
        """Policy logits and (optionally) critic values at every position.

        ``logits_to_keep > 0`` asks for the logits of the last ``logits_to_keep`` positions only (the vocabulary
        projection is most of a small model's compute); a model whose ``forward`` has no such argument returns all
        of them. Values always cover every position."""
        shared = with_values and self.critic_mode == "head"
        out = self._run(
            self.policy, input_ids, attention_mask, position_ids, hidden=shared, logits_to_keep=logits_to_keep
        )
        if not with_values or self.critic_mode == "none":
            return out.logits, None
        if self.critic_mode == "head":
            # detached: the value loss trains the head only, never the policy's weights through their features
            return out.logits, self.value_head(out.hidden_states[-1].detach())
        return out.logits, self.critic_values(input_ids, attention_mask, position_ids)

    def critic_values(self, input_ids, attention_mask, position_ids) -> torch.Tensor:
        """Values at every position from the critic's own forward pass (``adapter`` and ``model`` critics; the
        ``head`` critic has none: its values come with the policy's forward or from the sampler)."""
        if self.critic_mode in ("head", "none"):
            raise ValueError(f"critic {self.critic_mode!r} has no forward of its own (head: forward(with_values=True))")
        if self.critic_mode == "adapter":
            self.policy.set_adapter("critic")
            try:
                critic_out = self._run(self.policy, input_ids, attention_mask, position_ids, hidden=True)
            finally:
                self.policy.set_adapter("default")
                self._enable_all_adapters()
        else:
            critic_out = self._run(self.critic_model, input_ids, attention_mask, position_ids, hidden=True)
        return self.value_head(critic_out.hidden_states[-1])


def forward_parameters(model: nn.Module) -> frozenset[str]:
    """Parameter names of ``model.forward`` (the base model's, under a peft wrapper), cached on the model."""
    cached = getattr(model, "_lit_coderl_forward_parameters", None)
    if cached is None:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        try:
            cached = frozenset(inspect.signature(base.forward).parameters)
        except (TypeError, ValueError):
            cached = frozenset()
        model._lit_coderl_forward_parameters = cached
    return cached


def accepts_logits_to_keep(model: nn.Module) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (project only the last positions onto the vocabulary)."""
    return "logits_to_keep" in forward_parameters(model)


def _hidden_size(config) -> int:
    return getattr(config, "hidden_size", None) or config.get_text_config().hidden_size
