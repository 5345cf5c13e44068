"""Reward components: each a Lightning callback that scores every response token.

Components import lazily (``lit_coderl.rewards.lint.LintReward`` etc. in YAML); only the base class lives here, so
importing a component does not pull in the others' dependencies.
"""

from lit_coderl.rewards.base import RewardComponent

__all__ = ["RewardComponent"]
