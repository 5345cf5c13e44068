"""`CodeRLModule`: the recipe. One `training_step` is one PPO iteration: rollout → rewards → PPO update.

The module composes the pieces and owns none of their logic: sampling is `rollout.generate`, rewards are the
`RewardComponent` callbacks listed under ``trainer.callbacks``, and every formula is a pure function in `ppo`.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from typing import Literal

import lightning as L
import numpy as np
import torch

from lit_coderl import checkpoints, ppo
from lit_coderl.data.prompts import render_prompt
from lit_coderl.iteration import (
    as_options,
    assemble_rewards,
    critic_for,
    iteration_metrics,
    logprobs_values_entropy,
    response_logits_and_values,
    reward_kl_coef,
    sampler_logprobs_values_entropy,
    timed,
)
from lit_coderl.models import ModelOptions, build_networks, load_tokenizer
from lit_coderl.optim import all_ranks_true, build_optimizer, clip_gradients, lr_factor, rank_share, refuse_zero3
from lit_coderl.ppo import PPOConfig
from lit_coderl.rewards.base import RewardComponent, score_components
from lit_coderl.rewards.sandboxed import check_infra_errors, infra_error_count
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
            component's sequence score goes once on the last response token (TRL's baseline); KL stays per token.
        max_iterations: PPO iterations to run. (Lightning's ``max_steps`` counts optimizer steps, several per
            iteration, so training stops on this instead.)
        max_prompts: Run length in prompts over all processes; when set it replaces ``max_iterations`` by
            ``ceil(max_prompts / (data.batch_size × processes))``, so a run means the same at any device count.
        forward_batch_size: Samples per forward pass when computing old/reference log-probs and values.
        old_logprobs: Where PPO's old log-probs, the policy's entropy and the head critic's values come from.
            ``sampler``: the sampling pass itself, which drew every token from the same distribution function
            training uses (one forward pass over the batch fewer per iteration). The first iteration checks that on a
            chunk: a logits processor whose change ``constrain_logits`` does not mirror makes the two differ, and the
            run then warns and recomputes. ``recompute``: a second forward over prompt + response (TRL's way); the two
            differ by rounding only (KV-cache vs full-sequence attention).
        infra_error_iterations: Training stops, with one line saying what failed, when sandboxed reward components
            report infrastructure errors (jobs that failed before their program ran; those samples get no score)
            in this many consecutive iterations; 0 never stops. Counted from the start of the process.
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
        old_logprobs: Literal["sampler", "recompute"] = "sampler",
        infra_error_iterations: int = 2,
    ) -> None:
        super().__init__()
        hparams = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        model, generation = as_options(ModelOptions, model), as_options(GenerationOptions, generation)
        ppo = as_options(PPOConfig, ppo)
        model = critic_for(ppo, model, generation)
        # checkpoints load with weights_only=True: keep hyper-parameters as plain containers
        plain = {"model": model, "generation": generation, "ppo": ppo}
        self.save_hyperparameters(hparams | {k: dataclasses.asdict(v) for k, v in plain.items()})
        self.automatic_optimization = False
        self.model_options, self.generation, self.ppo = model, generation, ppo
        self.learning_rate = learning_rate
        self.value_learning_rate = value_learning_rate if value_learning_rate is not None else learning_rate
        self.weight_decay, self.lr_schedule, self.warmup_iterations = weight_decay, lr_schedule, warmup_iterations
        self.reward_placement = reward_placement
        self.max_iterations, self.max_prompts = max_iterations, max_prompts
        self.forward_batch_size = forward_batch_size
        if old_logprobs not in ("sampler", "recompute"):
            raise ValueError(f"old_logprobs must be 'sampler' or 'recompute', got {old_logprobs!r}")
        self.old_logprobs = old_logprobs
        self.infra_error_iterations = int(infra_error_iterations)
        self._infra_streak = 0  # consecutive iterations with sandbox infrastructure errors (not checkpointed)
        self._sampler_checked = False
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

    # -----------------------------------------------------------------------------------------------------------------
    # optimizer

    def configure_optimizers(self):
        optimizer = build_optimizer(
            self, self.net.policy_parameters(), self.net.critic_parameters(), self.learning_rate,
            self.value_learning_rate, self.weight_decay,
        )  # fmt: skip
        schedule = lambda i: lr_factor(i, self.warmup_iterations, self.max_iterations, self.lr_schedule)  # noqa: E731
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

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
        refuse_zero3(self.trainer.strategy if self._trainer is not None else None)

    def on_train_start(self) -> None:
        if self._rng_to_restore is not None:
            checkpoints.set_rng_state(self._rng_to_restore)
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
        components = self.reward_components

        from_sampler = self.old_logprobs == "sampler"
        with timed(timings, "generate"):
            rollout = self.rollout(batch, self.generation, with_values=from_sampler)
        for component in components:
            component.submit(rollout)  # slow checkers (sandboxed execution) run while we do the forwards below

        mask = rollout.response_mask.to(self.device)
        from_sampler = from_sampler and self._sampler_logprobs_are_trainings(rollout)
        with timed(timings, "values"):
            if from_sampler:
                old_logprobs, values, entropy = sampler_logprobs_values_entropy(
                    self.net, rollout, self.forward_batch_size, self.device
                )
            else:
                old_logprobs, values, entropy = self._logprobs_and_values(rollout, reference=False)
        with timed(timings, "ref_logprobs"):
            with self.net.reference_context():
                ref_logprobs, _, _ = self._logprobs_and_values(rollout, reference=True)
        rollout.logprobs, rollout.ref_logprobs, rollout.values = old_logprobs, ref_logprobs, values

        with timed(timings, "reward"):
            scores, sequence_scores = self._score(rollout, components)
        self._infra_streak = check_infra_errors(components, self._infra_streak, self.infra_error_iterations)
        with timed(timings, "gae"):
            weights = {c.name: c.weight for c in components}
            t = assemble_rewards(
                scores, sequence_scores, weights, mask, old_logprobs, ref_logprobs, values, rollout.ended, self.ppo,
                self.reward_placement, rollout.group_ids,
            )  # fmt: skip

        with timed(timings, "update"):
            update_stats = self._ppo_update(rollout, old_logprobs, values, ref_logprobs, t)
        # the policy's mean token entropy on this rollout, measured once (not in every minibatch)
        update_stats["policy/entropy_avg"] = float(ppo.masked_mean(entropy, mask))

        self.iteration += 1
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        timings["step"] = time.perf_counter() - step_start

        counters = {"iteration": self.iteration, "train/skipped_updates": self.skipped_updates}
        counters |= {"train/nonfinite_rewards": self.nonfinite_rewards, "lr": self.optimizers().param_groups[0]["lr"]}
        counters["sandbox/infra_errors"] = infra_error_count(components)
        metrics = iteration_metrics(rollout, components, scores, t, values, mask, self.ppo, timings, counters)
        metrics |= update_stats
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=rollout.batch_size)
        self.log("reward", metrics["reward/total"], prog_bar=True, on_step=True, batch_size=rollout.batch_size)
        self.log("kl", metrics["objective/kl"], prog_bar=True, on_step=True, batch_size=rollout.batch_size)
        kl_reward, rewards = (-reward_kl_coef(self.ppo) * t.kl).cpu(), t.rewards.detach().cpu()
        self.last_iteration = {"rollout": rollout, "scores": scores, "weights": weights}
        self.last_iteration |= {"kl_reward": kl_reward, "rewards": rewards}

    def rollout(self, batch: list[dict], options: GenerationOptions, with_values: bool = False) -> Rollout:
        """Render prompts, sample responses from the current policy (the trainer's rank-local batch); with
        ``with_values``, the head critic's values are taken during sampling."""
        prompts = [render_prompt(task, self.tokenizer) for task in batch]
        processors = [p for c in self.reward_components if (p := c.logits_processor(self.tokenizer)) is not None]
        value_fn = self.net.value_head if with_values and self.net.critic_mode == "head" else None
        return generate(
            self.net.policy, self.tokenizer, prompts, options, tasks=list(batch), logits_processors=processors,
            gradient_checkpointing=self.model_options.gradient_checkpointing, value_fn=value_fn,
        )  # fmt: skip

    def _sampler_logprobs_are_trainings(self, rollout: Rollout) -> bool:
        """Once per run: the sampler's log-probs of a chunk against training's recomputation. A gap above 1e-3
        nats/token (a processor that ``constrain_logits`` does not mirror) switches the run to ``recompute``."""
        if self._sampler_checked:
            return self.old_logprobs == "sampler"
        self._sampler_checked = True
        idx = slice(0, self.forward_batch_size)
        with torch.no_grad():
            logits, _ = self._forward(rollout, idx)
        chunk_mask = rollout.response_mask[idx].to(self.device)
        training = ppo.logprobs_from_logits(logits, rollout.response_ids[idx].to(self.device))
        gap = float(ppo.masked_mean((training - rollout.sampler_logprobs[idx].to(self.device)).abs(), chunk_mask))
        if not all_ranks_true(self, gap <= 1e-3):  # every rank takes the same path
            warnings.warn(
                f"the sampler's log-probs differ from training's by {gap:.3g} nats/token (a logits processor whose "
                "change constrain_logits does not mirror?): PPO recomputes its old log-probs from now on",
                stacklevel=1,
            )
            self.old_logprobs = "recompute"
        return self.old_logprobs == "sampler"

    def _logprobs_and_values(self, rollout: Rollout, reference: bool):
        forward = lambda idx: self._forward(rollout, idx, reference=reference)  # noqa: E731
        return logprobs_values_entropy(forward, rollout, self.forward_batch_size, self.device, reference)

    def _forward(self, rollout: Rollout, idx, reference: bool = False):
        """(logits the sampler drew from, values) on the response tokens of samples ``idx`` (`iteration`)."""

        def constrain(logits: torch.Tensor) -> torch.Tensor:
            for component in self.reward_components:
                logits = component.constrain_logits(rollout, idx, logits)
            return logits

        return response_logits_and_values(
            self.net, rollout, idx, self.device, self.generation, constrain=constrain, reference=reference
        )

    def _score(self, rollout: Rollout, components: list[RewardComponent]):
        scores, sequence_scores, nonfinite = score_components(rollout, components)
        self.nonfinite_rewards += nonfinite
        return scores, sequence_scores

    def _ppo_update(self, rollout, old_logprobs, old_values, ref_logprobs, t) -> dict[str, float]:
        """``ppo_epochs`` passes over the batch in minibatches: one optimizer step per minibatch, its gradient
        accumulated over micro-batches, each loss weighted by its share of the minibatch's tokens or sequences
        (`ppo.micro_batch_share`) and by its rank's share of all ranks' (`rank_share`): one global mean."""
        cfg, mask = self.ppo, t.loss_mask
        optimizer = self.optimizers()
        stats: dict[str, list[float]] = {}
        for _ in range(cfg.ppo_epochs):
            for micro_batches in ppo.minibatches(torch.randperm(rollout.batch_size).tolist(), cfg):
                mb_mask = mask[[i for micro in micro_batches for i in micro]]
                across = rank_share(self, ppo.aggregation_count(mb_mask, cfg.loss_aggregation))
                optimizer.zero_grad()
                mb_stats: dict[str, float] = {}
                finite = True
                for k, micro_idx in enumerate(micro_batches):
                    share = ppo.micro_batch_share(mask[micro_idx], mb_mask, cfg.loss_aggregation)
                    loss, micro_stats = self._ppo_loss(rollout, micro_idx, old_logprobs, old_values, ref_logprobs, t)
                    finite = finite and bool(torch.isfinite(loss))
                    # backward always runs: every rank joins the gradient all-reduce, whatever its loss
                    self._backward(loss * share * across, optimizer, is_last=k == len(micro_batches) - 1)
                    for key, value in micro_stats.items():
                        mb_stats[key] = mb_stats.get(key, 0.0) + float(value) * float(share)
                if not all_ranks_true(self, finite):
                    optimizer.zero_grad()
                    self.skipped_updates += 1
                    skipped = f"non-finite PPO loss at iteration {self.iteration} (on this or another rank)"
                    warnings.warn(f"{skipped}; update skipped", stacklevel=1)
                    continue
                if cfg.max_grad_norm:
                    clip_gradients(self, optimizer, cfg.max_grad_norm)
                optimizer.step()
                for key, value in mb_stats.items():
                    stats.setdefault(key, []).append(value)
        return {key: float(np.mean(v)) for key, v in stats.items()}

    def _ppo_loss(self, rollout, idx, old_logprobs, old_values, ref_logprobs, t):
        """PPO loss of samples ``idx`` (aggregated over their tokens) and its diagnostics."""
        logits, values = self._forward(rollout, idx)
        response_ids = rollout.response_ids[idx].to(self.device)
        rows = (old_logprobs[idx], None if old_values is None else old_values[idx], t.advantages[idx], t.returns[idx])
        norm = self.ppo.loss_norm_tokens or self.generation.max_new_tokens
        return ppo.ppo_loss(logits, values, response_ids, *rows, t.loss_mask[idx], self.ppo, ref_logprobs[idx], norm)

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

    # -----------------------------------------------------------------------------------------------------------------
    # validation / test: greedy responses scored by the same components

    def validation_step(self, batch: list[dict], batch_idx: int) -> None:
        self._evaluate_batch(batch, "val")

    def test_step(self, batch: list[dict], batch_idx: int) -> None:
        self._evaluate_batch(batch, "test")

    def _evaluate_batch(self, batch: list[dict], stage: str) -> None:
        greedy = GenerationOptions(**{**vars(self.generation), "temperature": 0.0, "samples_per_prompt": 1})
        rollout = self.rollout(batch, greedy)
        components = self.reward_components
        for component in components:
            component.submit(rollout)
        per_seq = {name: s.sum(1) for name, s in self._score(rollout, components)[0].items()}
        total = sum((c.weight * per_seq[c.name] for c in components), torch.zeros(rollout.batch_size))
        for name, values in per_seq.items():
            self.log(f"{stage}/reward/{name}/mean", float(values.mean()), batch_size=rollout.batch_size)
        for component in components:  # pass rate, success rate, ...: batch means, so weighted by batch size
            for key, value in component.metrics().items():
                self.log(f"{stage}/reward/{component.name}/{key}", float(value), batch_size=rollout.batch_size)
        self.log(f"{stage}/reward/total", float(total.mean()), prog_bar=True, batch_size=rollout.batch_size)

    # -----------------------------------------------------------------------------------------------------------------
    # checkpoints: iteration counter and RNG state, so a resumed run continues exactly

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        counters = {k: getattr(self, k) for k in ("iteration", "skipped_updates", "nonfinite_rewards")}
        checkpoints.save_state(self, checkpoint, counters)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoints.load_state(self, checkpoint)
        for key in ("iteration", "skipped_updates", "nonfinite_rewards"):
            setattr(self, key, state.get(key, 0))
        self._rng_to_restore = state.get("rng")
