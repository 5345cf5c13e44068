"""What a job may use (`Limits`) and how a job child applies it to itself (rlimits)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass
class Limits:
    """Resource limits of one sandboxed job."""

    timeout_s: float = 10.0
    """Wall clock of the whole job, kept by the server's clock (the child is SIGKILLed after it)."""
    memory_mb: int = 4096
    """RLIMIT_AS (and RLIMIT_DATA, RLIMIT_STACK) in MiB; EvalPlus uses 4 GiB."""
    cpu_s: int | None = None
    """RLIMIT_CPU in seconds; ``None`` means ``ceil(timeout_s) + 1``."""
    max_processes: int = 1
    """Processes (and threads) the job may run at once, itself included; 1 forbids fork (RLIMIT_NPROC, counted
    inside the job's own user namespace)."""
    file_size_mb: int = 16
    """RLIMIT_FSIZE in MiB: the largest file the job may write (all files share the sandbox's capped ``/tmp``)."""
    max_output_bytes: int = 1_000_000
    """Captured stdout and stderr are each cut to this many bytes."""

    def cpu_seconds(self) -> int:
        return int(self.cpu_s) if self.cpu_s is not None else math.ceil(self.timeout_s) + 1

    def validate(self) -> Limits:
        """Self, after checking every field is positive (`ValueError` naming the field)."""
        for name in ("timeout_s", "memory_mb", "max_processes", "file_size_mb", "max_output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")
        return self


def _processes_now() -> int:
    """Processes of this user namespace's sandbox (server and job), counted from /proc (the PID namespace)."""
    try:
        return sum(entry.isdigit() for entry in os.listdir("/proc"))
    except OSError:
        return 2


def apply_limits(limits: Limits, isolated: bool) -> None:
    """Set this process's rlimits from ``limits`` (called in the job child before any untrusted code runs)."""
    import resource

    def cap(kind: int, value: int) -> None:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))

    memory = int(limits.memory_mb) * 1024 * 1024
    cap(resource.RLIMIT_AS, memory)
    cap(resource.RLIMIT_DATA, memory)
    cap(resource.RLIMIT_STACK, min(memory, 256 * 1024 * 1024))
    cpu = limits.cpu_seconds()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1 if hard == resource.RLIM_INFINITY else min(cpu + 1, hard)))
    cap(resource.RLIMIT_FSIZE, int(limits.file_size_mb) * 1024 * 1024)
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NOFILE, 256)
    if isolated:
        # RLIMIT_NPROC counts the processes of our uid in our own user namespace: the server and this child now
        cap(resource.RLIMIT_NPROC, _processes_now() + int(limits.max_processes) - 1)
