"""A test-only DeepSpeed strategy that runs on CPU with gloo.

Lightning refuses DeepSpeed without CUDA; three checks stand in the way (see ``shared/docs/cpu-stack.md`` §6):
the CUDA accelerator check in ``setup_environment``, the device-index validation in ``setup_distributed``, and
``root_device`` having no integer index. Everything else is Lightning's and DeepSpeed's own code path.
"""

from __future__ import annotations

import torch
from lightning.fabric.utilities.seed import reset_seed
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy


class CPUDeepSpeedStrategy(DeepSpeedStrategy):
    def setup_environment(self) -> None:
        # skip the CUDA-only check, keep torch.distributed initialisation
        DDPStrategy.setup_environment(self)

    def setup_distributed(self) -> None:
        reset_seed()
        self.set_world_ranks()
        self._init_deepspeed_distributed()

    @property
    def root_device(self) -> torch.device:
        return torch.device("cpu", self.local_rank)  # DeepSpeed needs an integer device index
