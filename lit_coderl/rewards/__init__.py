"""Reward components: each a Lightning callback that scores every response token."""

from lit_coderl.rewards.base import RewardComponent

__all__ = ["RewardComponent"]
