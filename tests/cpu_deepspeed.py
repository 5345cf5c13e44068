"""A test-only DeepSpeed strategy that runs on CPU with gloo.

Lightning refuses DeepSpeed without CUDA; three checks stand in the way (see ``shared/docs/cpu-stack.md`` §6):
the CUDA accelerator check in ``setup_environment``, the device-index validation in ``setup_distributed``, and
``root_device`` having no integer index. Everything else is Lightning's and DeepSpeed's own code path, bar one
speed-up: DeepSpeed's shared-memory collectives for CPU (``deepspeed_shm_comm``) are switched off, so collectives
go through gloo and no C++ extension is compiled at start-up (3-4 minutes on a loaded 2-core machine, after a probe
of every op's compiler).
"""

from __future__ import annotations

import torch
from lightning.fabric.utilities.seed import reset_seed
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy

try:
    import deepspeed.ops

    # read lazily by deepspeed.comm when it starts; set first, it also skips probing every op's compiler
    deepspeed.ops.__compatible_ops__ = {"deepspeed_shm_comm": False}
except ImportError:  # the strategy then fails where Lightning checks for deepspeed, with its own message
    pass


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
