"""Training and evaluation data: task sources and the `CodeRLDataModule`."""

from lit_coderl.data.base import TaskRow, TaskSource
from lit_coderl.data.module import CodeRLDataModule

__all__ = ["CodeRLDataModule", "TaskRow", "TaskSource"]
