"""lit_coderl: PPO fine-tuning of code LLMs with dense, token-level, execution-aware rewards on PyTorch Lightning."""

__version__ = "0.1.0"
