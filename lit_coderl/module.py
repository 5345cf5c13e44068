"""`CodeRLModule`: the recipe. One `training_step` is one PPO iteration: rollout → rewards → PPO update.

The module composes the pieces and owns none of their logic: sampling is `rollout.generate`, rewards are the
`RewardComponent` callbacks listed under ``trainer.callbacks``, and every formula is a pure function in `ppo`.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
import warnings
from contextlib import contextmanager
from typing import Literal

import lightning as L
import numpy as np
import torch

from lit_coderl import checkpoints, ppo
from lit_coderl.data.prompts import render_prompt
from lit_coderl.models import ModelOptions, accepts_logits_to_keep, build_networks, load_tokenizer
from lit_coderl.ppo import PPOConfig
from lit_coderl.rewards.base import RewardComponent
from lit_coderl.rollout import GenerationOptions, Rollout, generate


class CodeRLModule(L.LightningModule):
    """PPO with dense, token-level rewards for code generation.

    Args:
        model: The policy model, its LoRA adapter and precision.
        generation: Rollout sampling settings.
        ppo: PPO hyper-parameters.
        learning_rate: Learning rate of the policy's trainable weights (LoRA adapter, or all weights).
        value_learning_rate: Learning rate of the value head (defaults to ``learning_rate``).
        weight_decay: AdamW weight decay.
        lr_schedule: How the learning rate moves over ``max_iterations``: constant, linear decay to 0, or cosine.
        warmup_iterations: Iterations of linear warm-up from 0.
        reward_placement: ``dense``: each component's per-token scores stay on their tokens. ``eos``: each
            component's sequence total goes on the last response token (the TRL baseline); KL stays per token.
        max_iterations: PPO iterations to run. (Lightning's ``max_steps`` counts optimizer steps, several per
            iteration, so training stops on this instead.)
        max_prompts: Run length in prompts over all processes; when set it replaces ``max_iterations`` by
            ``ceil(max_prompts / (data.batch_size × processes))``, so a run means the same at any device count.
        forward_batch_size: Samples per forward pass when computing old/reference log-probs and values.
    """

    def __init__(
        self,
        model: ModelOptions = ModelOptions(),
        generation: GenerationOptions = GenerationOptions(),
        ppo: PPOConfig = PPOConfig(),
        learning_rate: float = 3e-6,
        value_learning_rate: float | None = None,
        weight_decay: float = 0.0,
        lr_schedule: Literal["constant", "linear", "cosine"] = "constant",
        warmup_iterations: int = 0,
        reward_placement: Literal["dense", "eos"] = "dense",
        max_iterations: int = 100,
        max_prompts: int | None = None,
        forward_batch_size: int = 16,
    ) -> None:
        super().__init__()
        # checkpoints load with weights_only=True: keep hyper-parameters as plain containers
        model, generation, ppo = _as(ModelOptions, model), _as(GenerationOptions, generation), _as(PPOConfig, ppo)
        self.save_hyperparameters(
            {
                "model": _plain(model),
                "generation": _plain(generation),
                "ppo": _plain(ppo),
                "learning_rate": learning_rate,
                "value_learning_rate": value_learning_rate,
                "weight_decay": weight_decay,
                "lr_schedule": lr_schedule,
                "warmup_iterations": warmup_iterations,
                "reward_placement": reward_placement,
                "max_iterations": max_iterations,
                "max_prompts": max_prompts,
                "forward_batch_size": forward_batch_size,
            }
        )
        self.automatic_optimization = False
        self.model_options, self.generation, self.ppo = model, generation, ppo
        self.learning_rate = learning_rate
        self.value_learning_rate = value_learning_rate if value_learning_rate is not None else learning_rate
        self.weight_decay, self.lr_schedule, self.warmup_iterations = weight_decay, lr_schedule, warmup_iterations
        self.reward_placement = reward_placement
        self.max_iterations, self.max_prompts = max_iterations, max_prompts
        self.forward_batch_size = forward_batch_size
        self.last_iteration: dict | None = None
        """The last iteration's rollout, per-component scores, weights and per-token rewards (for callbacks)."""

        self.tokenizer = load_tokenizer(model.name_or_path, model.trust_remote_code)
        self.net = build_networks(model)
        # from_pretrained returns eval mode; dropout is off anyway, train mode only matters for checkpointing
        self.net.policy.train()
        self.iteration = 0
        """PPO iterations completed (restored from checkpoints)."""
        self.skipped_updates = 0
        """Optimizer steps skipped because the loss was NaN/inf (restored from checkpoints)."""
        self.nonfinite_rewards = 0
        """Reward entries that were NaN/inf and were replaced by 0."""
        self._rng_to_restore: dict | None = None
        self._base_identity: dict | None = None

    # -----------------------------------------------------------------------------------------------------------------
    # optimizer

    def configure_optimizers(self):
        policy_params = self.net.policy_parameters()
        value_params = self.net.critic_parameters()
        # one optimizer with two param groups: DeepSpeed supports exactly one
        optimizer = torch.optim.AdamW(
            [
                {"params": policy_params, "lr": self.learning_rate, "name": "policy"},
                {"params": value_params, "lr": self.value_learning_rate, "name": "value"},
            ],
            weight_decay=self.weight_decay,
            # one fused kernel per step instead of a Python loop over tensors: ~7x faster on CPU for the tiny model,
            # and what CUDA runs best too; other devices keep torch's default implementation
            fused=True if self._fused_adamw_ok(policy_params + value_params) else None,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _fused_adamw_ok(self, params: list[torch.Tensor]) -> bool:
        # with a gradient scaler (16-mixed) the fused kernel unscales inside step(), after any clipping would run:
        # there the plugin clips, which needs the unfused optimizer
        return _fused_adamw_supported(params) and _grad_scaler(self) is None

    def _clip_gradients(self, optimizer, max_norm: float) -> None:
        """Clip the global gradient norm to ``max_norm``.

        Without a gradient scaler (``32``, ``bf16-mixed``) the gradients are already unscaled: clip them directly,
        which works with the fused AdamW (Lightning's mixed-precision plugin refuses to clip for fused optimizers).
        With a scaler (``16-mixed``) the plugin unscales first. Under DeepSpeed Lightning's clipping is a no-op:
        ``gradient_clipping`` in the strategy's config clips."""
        if _grad_scaler(self) is not None or hasattr(self.trainer.model, "set_gradient_accumulation_boundary"):
            self.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")
            return
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, max_norm)

    def _lr_factor(self, iteration: int) -> float:
        if self.warmup_iterations and iteration < self.warmup_iterations:
            return (iteration + 1) / self.warmup_iterations
        progress = min(1.0, iteration / max(1, self.max_iterations))
        if self.lr_schedule == "linear":
            return 1.0 - progress
        if self.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    # -----------------------------------------------------------------------------------------------------------------
    # the PPO iteration

    @property
    def reward_components(self) -> list[RewardComponent]:
        if self._trainer is None:  # driven without a Trainer (benchmarks, notebooks)
            return []
        return [cb for cb in self.trainer.callbacks if isinstance(cb, RewardComponent)]

    def setup(self, stage: str) -> None:
        if self.max_prompts and self._trainer is not None:
            per_iteration = self.trainer.datamodule.batch_size * self.trainer.world_size
            self.max_iterations = math.ceil(self.max_prompts / per_iteration)
        strategy = self.trainer.strategy if self._trainer is not None else None
        config = getattr(strategy, "config", None)
        if isinstance(config, dict) and config.get("zero_optimization", {}).get("stage", 0) >= 3:
            raise ValueError(
                "DeepSpeed ZeRO-3 is not supported: sampling would all-gather the partitioned weights at every "
                "decoding step. Use ZeRO-2 (configs/strategies/deepspeed_zero2.yaml) or DDP."
            )

    def on_train_start(self) -> None:
        if self._rng_to_restore is not None:
            _set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None
        if not self.reward_components:
            warnings.warn("no RewardComponent in trainer.callbacks: the only reward is the KL penalty", stacklevel=1)

    def on_train_batch_start(self, batch, batch_idx: int):
        if self.iteration >= self.max_iterations:
            self.trainer.should_stop = True
            return -1  # ends the epoch: the loader is endless
        return None

    def training_step(self, batch: list[dict], batch_idx: int) -> None:
        timings: dict[str, float] = {}
        step_start = time.perf_counter()
        cfg = self.ppo
        components = self.reward_components

        with _timed(timings, "generate"):
            rollout = self.rollout(batch, self.generation)
        for component in components:
            component.submit(rollout)  # slow checkers (sandboxed execution) run while we do the forwards below

        mask = rollout.response_mask.to(self.device)
        with _timed(timings, "values"):
            old_logprobs, values, entropy = self._logprobs_and_values(rollout, reference=False)
        with _timed(timings, "ref_logprobs"):
            with self.net.reference_context():
                ref_logprobs, _, _ = self._logprobs_and_values(rollout, reference=True)
        rollout.logprobs, rollout.ref_logprobs, rollout.values = old_logprobs, ref_logprobs, values

        with _timed(timings, "reward"):
            component_scores = self._score(rollout, components)
        with _timed(timings, "gae"):
            weighted = sum((c.weight * component_scores[c.name] for c in components), torch.zeros_like(mask)).to(
                self.device
            )
            scores = ppo.place_scores(weighted, mask, self.reward_placement)
            kl = ppo.kl_penalty(old_logprobs, ref_logprobs, cfg.kl_estimator) * mask
            rewards = ppo.total_rewards(scores, kl, cfg.kl_coef, mask)
            if cfg.missing_eos_penalty and rollout.ended is not None:
                last = ppo.last_token_index(mask)
                truncated = (~rollout.ended.to(self.device)).float()
                rewards[torch.arange(len(last)), last] -= cfg.missing_eos_penalty * truncated
            if cfg.whiten_rewards:
                rewards = ppo.masked_whiten(rewards, mask, shift_mean=False)
            advantages, returns = ppo.gae(rewards, values, mask, cfg.gamma, cfg.lam)
            advantages = ppo.masked_whiten(advantages, mask)

        with _timed(timings, "update"):
            update_stats = self._ppo_update(rollout, old_logprobs, values, advantages, returns, mask)
        # the policy's mean token entropy on this rollout, measured once (not in every minibatch: it is only logged,
        # unless entropy_coef > 0 puts it in the loss)
        update_stats["policy/entropy_avg"] = float(ppo.masked_mean(entropy, mask))

        self.iteration += 1
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        timings["step"] = time.perf_counter() - step_start

        metrics = self._iteration_metrics(
            rollout, components, component_scores, weighted, kl, rewards, values, returns, mask, update_stats, timings
        )
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=rollout.batch_size)
        self.log("reward", metrics["reward/total"], prog_bar=True, on_step=True, batch_size=rollout.batch_size)
        self.log("kl", metrics["objective/kl"], prog_bar=True, on_step=True, batch_size=rollout.batch_size)
        self.last_iteration = {
            "rollout": rollout,
            "scores": component_scores,
            "weights": {c.name: c.weight for c in components},
            "kl_reward": (-cfg.kl_coef * kl).cpu(),
            "rewards": rewards.detach().cpu(),
        }

    def rollout(self, batch: list[dict], options: GenerationOptions) -> Rollout:
        """Render prompts, sample responses from the current policy (the trainer's rank-local batch)."""
        prompts = [render_prompt(task, self.tokenizer) for task in batch]
        processors = [p for c in self.reward_components if (p := c.logits_processor(self.tokenizer)) is not None]
        return generate(
            self.net.policy,
            self.tokenizer,
            prompts,
            options,
            tasks=list(batch),
            logits_processors=processors,
            gradient_checkpointing=self.model_options.gradient_checkpointing,
        )

    def _logprobs_and_values(self, rollout: Rollout, reference: bool):
        """Log-probs of the sampled tokens (temperature-scaled as in sampling); unless ``reference``, also values and
        the per-token entropy of the policy."""
        logprobs, values, entropies = [], [], []
        with torch.no_grad():
            for start in range(0, rollout.batch_size, self.forward_batch_size):
                idx = slice(start, start + self.forward_batch_size)
                logits, v = self._forward(rollout, idx, reference=reference)
                response_ids = rollout.response_ids[idx].to(self.device)
                if reference:
                    logprobs.append(ppo.logprobs_from_logits(logits, response_ids))
                    continue
                lp, entropy = ppo.logprobs_and_entropy(logits, response_ids)
                logprobs.append(lp)
                values.append(v)
                entropies.append(entropy)
        if reference:
            return torch.cat(logprobs), None, None
        return torch.cat(logprobs), torch.cat(values), torch.cat(entropies)

    def _forward(self, rollout: Rollout, idx, reference: bool = False):
        """Forward pass over prompt+response of samples ``idx``: (logits, values) on response tokens.

        The logits are those the sampler drew from: temperature-scaled, with the components' constraints applied.

        ``reference=True`` runs the reference model (call it inside ``self.net.reference_context()``), no values.
        """
        query_ids = rollout.query_ids[idx].to(self.device)
        query_mask = rollout.query_mask[idx].to(self.device)
        response_ids = rollout.response_ids[idx].to(self.device)
        response_mask = rollout.response_mask[idx].to(self.device)
        input_ids = torch.cat([query_ids, response_ids], dim=1)
        attention_mask = torch.cat([query_mask, response_mask.long()], dim=1)
        # left padding: positions count real tokens only, exactly as generate() numbered them
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        q_len, t_len = query_ids.shape[1], response_ids.shape[1]
        # only the logits that predict response tokens are projected onto the vocabulary (the last t_len + 1
        # positions, less the final one); the result is the same as slicing the full logits
        keep = t_len + 1 if q_len > 0 else 0
        if reference:
            ref_model = self.net.reference_model()
            kwargs = {"logits_to_keep": keep} if keep and accepts_logits_to_keep(ref_model) else {}
            all_logits = ref_model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False, **kwargs
            ).logits
            all_values = None
        else:
            all_logits, all_values = self.net(
                input_ids, attention_mask, position_ids, with_values=True, logits_to_keep=keep
            )
        # the logits at position p predict token p+1, and the value there is the value of the state before it
        response_positions = slice(q_len - 1, q_len + t_len - 1)
        logit_positions = response_positions if all_logits.shape[1] == input_ids.shape[1] else slice(0, t_len)
        logits = all_logits[:, logit_positions].float()
        temperature = self.generation.temperature
        if temperature > 0 and temperature != 1.0:  # exactly the sampler's scaling (`sampling.warp_logits`)
            logits = logits / temperature
        for component in self.reward_components:
            logits = component.constrain_logits(rollout, idx, logits)
        values = None if all_values is None else all_values[:, response_positions]
        return logits, values

    def _score(self, rollout: Rollout, components: list[RewardComponent]) -> dict[str, torch.Tensor]:
        """Each component's ``[B, T]`` scores; NaN/inf entries become 0 and are counted, a failing component warns."""
        scores = {}
        shape = tuple(rollout.response_ids.shape)
        for component in components:
            try:
                s = component.score(rollout)
            except Exception as err:  # a buggy reward must not end a long run
                warnings.warn(
                    f"reward component {component.name!r} failed ({err!r}); it scores 0 this iteration", stacklevel=1
                )
                s = torch.zeros(shape)
            s = torch.as_tensor(s, dtype=torch.float32).cpu()
            if tuple(s.shape) != shape:
                raise ValueError(
                    f"reward component {component.name!r} returned shape {tuple(s.shape)}, expected {shape}"
                )
            bad = ~torch.isfinite(s)
            if bad.any():
                self.nonfinite_rewards += int(bad.sum())
                warnings.warn(
                    f"reward component {component.name!r} returned {int(bad.sum())} NaN/inf values; replaced by 0",
                    stacklevel=1,
                )
                s = torch.where(bad, torch.zeros_like(s), s)
            scores[component.name] = s * rollout.response_mask
        return scores

    def _ppo_update(self, rollout, old_logprobs, old_values, advantages, returns, mask) -> dict[str, float]:
        """``ppo_epochs`` passes over the batch in minibatches: one optimizer step per minibatch, its gradient
        accumulated over micro-batches (each loss weighted by its share of the minibatch's tokens, so the sum equals
        the full-minibatch gradient)."""
        cfg = self.ppo
        optimizer = self.optimizers()
        b_size = rollout.batch_size
        mb_size = max(1, min(cfg.minibatch_size, b_size))
        micro_size = max(1, min(cfg.micro_batch_size or mb_size, mb_size))
        stats: dict[str, list[float]] = {}
        for _ in range(cfg.ppo_epochs):
            b_order = torch.randperm(b_size).tolist()
            for start in range(0, b_size, mb_size):
                mb_idx = b_order[start : start + mb_size]
                mb_tokens = mask[mb_idx].sum().clamp(min=1)
                micro_batches = [mb_idx[k : k + micro_size] for k in range(0, len(mb_idx), micro_size)]
                optimizer.zero_grad()
                mb_stats: dict[str, float] = {}
                finite = True
                for k, micro_idx in enumerate(micro_batches):
                    share = mask[micro_idx].sum() / mb_tokens
                    loss, micro_stats = self._ppo_loss(
                        rollout, micro_idx, old_logprobs, old_values, advantages, returns, mask
                    )
                    if not torch.isfinite(loss):
                        finite = False
                        break
                    self._backward(loss * share, optimizer, is_last=k == len(micro_batches) - 1)
                    for key, value in micro_stats.items():
                        mb_stats[key] = mb_stats.get(key, 0.0) + float(value) * float(share)
                if not finite:
                    optimizer.zero_grad()
                    self.skipped_updates += 1
                    warnings.warn(f"non-finite PPO loss at iteration {self.iteration}; update skipped", stacklevel=1)
                    continue
                if cfg.max_grad_norm:
                    self._clip_gradients(optimizer, cfg.max_grad_norm)
                optimizer.step()
                for key, value in mb_stats.items():
                    stats.setdefault(key, []).append(value)
        return {key: float(np.mean(v)) for key, v in stats.items()}

    def _ppo_loss(self, rollout, idx, old_logprobs, old_values, advantages, returns, mask):
        """PPO loss of samples ``idx`` (masked means over their tokens) and its diagnostics."""
        cfg = self.ppo
        idx_mask = mask[idx]
        logits, values = self._forward(rollout, idx)
        logprobs = ppo.logprobs_from_logits(logits, rollout.response_ids[idx].to(self.device))
        pg_loss, pg_stats = ppo.policy_loss(
            logprobs, old_logprobs[idx], advantages[idx], idx_mask, cfg.clip_range, cfg.log_ratio_clamp
        )
        vf_loss, vf_stats = ppo.value_loss(values, old_values[idx], returns[idx], idx_mask, cfg.clip_range_value)
        loss = pg_loss + cfg.vf_coef * vf_loss
        stats = {}
        if cfg.entropy_coef:  # a full-vocabulary softmax per token: only computed when it is part of the loss
            entropy = ppo.masked_mean(ppo.entropy_from_logits(logits), idx_mask)
            loss = loss - cfg.entropy_coef * entropy
            stats["loss/entropy_avg"] = entropy.detach()
        stats |= {
            "loss/policy_avg": pg_loss.detach(),
            "loss/value_avg": vf_loss.detach(),
            "loss/total": loss.detach(),
            "policy/approxkl_avg": pg_stats["approxkl"],
            "policy/clipfrac_avg": pg_stats["clipfrac"],
            "val/ratio": pg_stats["ratio"],
            "val/clipfrac_avg": vf_stats["clipfrac"],
        }
        return loss, stats

    def _backward(self, loss: torch.Tensor, optimizer, is_last: bool) -> None:
        """One backward of an accumulation; gradients are synchronised/reduced only on the last micro-batch."""
        engine = self.trainer.model
        if hasattr(engine, "set_gradient_accumulation_boundary"):
            # DeepSpeed: with GAS=1 every backward is a boundary, and ZeRO-2 would keep only the last micro-batch;
            # it reduces at the boundary itself (and refuses no_sync)
            engine.set_gradient_accumulation_boundary(is_last)
            self.manual_backward(loss)
            return
        with optimizer.toggle_model(sync_grad=is_last):
            self.manual_backward(loss)

    def _iteration_metrics(
        self, rollout, components, component_scores, weighted, kl, rewards, values, returns, mask, update, timings
    ) -> dict[str, float]:
        n_tokens = float(mask.sum())
        seq_kl = (kl * mask).sum(1)
        metrics = {
            "iteration": float(self.iteration),
            "reward/total": float(rewards.sum(1).mean()),
            "objective/scores": float(weighted.to(mask.device).mul(mask).sum(1).mean()),
            "objective/kl": float(seq_kl.mean()),
            "objective/non_score_reward": float((-self.ppo.kl_coef * seq_kl).mean()),
            "objective/entropy": float(-(rollout.logprobs * mask).sum(1).mean()),
            "val/vf_explained_var": float(ppo.explained_variance(values, returns, mask)),
            "val/num_eos_tokens": float(rollout.ended.sum()) if rollout.ended is not None else 0.0,
            "response/length_mean": n_tokens / rollout.batch_size,
            "train/skipped_updates": float(self.skipped_updates),
            "train/nonfinite_rewards": float(self.nonfinite_rewards),
            "lr": float(self.optimizers().param_groups[0]["lr"]),
        }
        for component in components:
            per_seq = component_scores[component.name].sum(1)
            metrics[f"reward/{component.name}/mean"] = float(per_seq.mean())
            metrics[f"reward/{component.name}/std"] = float(per_seq.std()) if len(per_seq) > 1 else 0.0
            for key, value in component.metrics().items():
                metrics[f"reward/{component.name}/{key}"] = float(value)
        metrics.update(update)
        for phase, seconds in timings.items():
            metrics[f"timing/{phase}"] = seconds
        prompt_tokens = float(rollout.query_mask.sum())
        metrics["perf/gen_tokens_per_s"] = n_tokens / max(timings["generate"], 1e-9)
        metrics["perf/train_tokens_per_s"] = (
            (n_tokens + prompt_tokens) * self.ppo.ppo_epochs / max(timings["update"], 1e-9)
        )
        metrics["perf/samples_per_s"] = rollout.batch_size / max(timings["step"], 1e-9)
        return metrics

    # -----------------------------------------------------------------------------------------------------------------
    # validation / test: greedy responses scored by the same components

    def validation_step(self, batch: list[dict], batch_idx: int) -> None:
        self._evaluate_batch(batch, "val")

    def test_step(self, batch: list[dict], batch_idx: int) -> None:
        self._evaluate_batch(batch, "test")

    def _evaluate_batch(self, batch: list[dict], stage: str) -> None:
        greedy = GenerationOptions(**{**vars(self.generation), "temperature": 0.0})
        rollout = self.rollout(batch, greedy)
        components = self.reward_components
        for component in components:
            component.submit(rollout)
        scores = self._score(rollout, components)
        total = torch.zeros(rollout.batch_size)
        for component in components:
            per_seq = scores[component.name].sum(1)
            total += component.weight * per_seq
            self.log(f"{stage}/reward/{component.name}/mean", float(per_seq.mean()), batch_size=rollout.batch_size)
        self.log(f"{stage}/reward/total", float(total.mean()), prog_bar=True, batch_size=rollout.batch_size)

    # -----------------------------------------------------------------------------------------------------------------
    # checkpoints: iteration counter and RNG state, so a resumed run continues exactly

    def base_identity(self) -> dict:
        """The base model the trained weights belong to: its name/path and a fingerprint of the frozen weights."""
        if self._base_identity is None:
            self._base_identity = {
                "name_or_path": self.model_options.name_or_path,
                "fingerprint": checkpoints.base_fingerprint(self),
            }
        return self._base_identity

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # only the trained weights: the frozen base (and reference copy) is rebuilt from model.name_or_path
        if "state_dict" in checkpoint:
            checkpoint["state_dict"] = checkpoints.keep_trainable(
                checkpoint["state_dict"], checkpoints.trainable_names(self)
            )
        checkpoint["lit_coderl"] = {
            "iteration": self.iteration,
            "skipped_updates": self.skipped_updates,
            "nonfinite_rewards": self.nonfinite_rewards,
            "rng": _get_rng_state(),
            "base_model": self.base_identity(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("lit_coderl", {})
        checkpoints.check_base(state.get("base_model"), self.base_identity())
        if "state_dict" in checkpoint:
            checkpoint["state_dict"] = checkpoints.with_frozen(checkpoint["state_dict"], self.state_dict())
        self.iteration = state.get("iteration", 0)
        self.skipped_updates = state.get("skipped_updates", 0)
        self.nonfinite_rewards = state.get("nonfinite_rewards", 0)
        self._rng_to_restore = state.get("rng")


def _fused_adamw_supported(params: list[torch.Tensor]) -> bool:
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def _grad_scaler(module: L.LightningModule):
    """The precision plugin's gradient scaler (``16-mixed``), or None (``32``, ``bf16-mixed``, no trainer)."""
    if module._trainer is None:
        return None
    return getattr(module.trainer.precision_plugin, "scaler", None)


@contextmanager
def _timed(timings: dict[str, float], phase: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start


def _as(cls, value):
    """A dataclass instance from itself or from its dict (hyper-parameters restored from a checkpoint)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, item in value.items():
            nested = getattr(cls(), key, None)
            kwargs[key] = _as(type(nested), item) if dataclasses.is_dataclass(nested) and key in fields else item
        return cls(**kwargs)
    raise TypeError(f"expected {cls.__name__} or a dict of its fields, got {type(value).__name__}")


def _plain(options) -> dict:
    return dataclasses.asdict(options)


def _get_rng_state() -> dict:
    # only tensors and Python primitives: Lightning loads checkpoints with weights_only=True
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
