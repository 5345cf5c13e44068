"""Command line: ``python -m lit_coderl {fit,validate,test} --config NAME`` (LightningCLI), ``evaluate``, ``data``.

Every hyper-parameter is a typed ``__init__`` argument with a docstring, so ``--help`` documents it and
``--print_config`` writes a YAML that runs as a config. ``--config`` takes a path or a shipped config's name
(``python -m lit_coderl configs`` lists them). The ``lit-coderl`` console script is this same ``main``.
"""

from __future__ import annotations

import os
import re
import sys

from lit_coderl.configs import list_configs, resolve_config_args

USAGE = """usage: python -m lit_coderl {fit,validate,test,evaluate,export,configs,data,models} ...

  fit       train with PPO                 (python -m lit_coderl fit --config demo.yaml)
  validate  score held-out prompts         (python -m lit_coderl validate --config ... --ckpt_path ...)
  test      same, on the test dataloader
  evaluate  benchmark generations          (python -m lit_coderl evaluate KIND --samples FILE.jsonl)
  export    checkpoint -> HF model dir     (python -m lit_coderl export --ckpt_path CKPT --out DIR [--merge])
  configs   list the shipped configs       (use one by name: --config robo.yaml, --config strategies/ddp)
  data      benchmark data                 (python -m lit_coderl data fetch {mbpp,mbppplus,roboeval})
  models    named offline models           (python -m lit_coderl models fetch smollm2-135m-instruct)

Each subcommand has its own --help. Set LIT_CODERL_DEBUG=1 to see tracebacks of user errors."""

#: exceptions that a wrong config, path or value raises: printed as one error line (no traceback)
USER_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, OSError, ValueError)


class UserError(SystemExit):
    """Exit status 2 after printing ``error: ...`` first on stderr."""

    def __init__(self, message: str) -> None:
        lines = str(message).strip().splitlines() or ["(no message)"]
        print(f"error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        super().__init__(2)


def condense_parser_error(message: str) -> str:
    """One line from jsonargparse's report, which lists every union alternative's failure under the key.

    ``Parser key "trainer.callbacks": ... Problem with given class_path 'X': Option 'y' is not accepted`` becomes
    ``Parser key "trainer.callbacks": X: Option 'y' is not accepted``.
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "invalid arguments"
    first = lines[0]
    for i, line in enumerate(lines[:-1]):
        match = re.match(r"-?\s*Problem with given class_path '(.+)':$", line)
        if match:
            return f"{first} {match.group(1)}: {lines[i + 1].lstrip('- ')}"
    if first.endswith(":") and len(lines) > 1:
        return f"{first} {lines[1].lstrip('- ')}"
    return first


def _debug() -> bool:
    return os.environ.get("LIT_CODERL_DEBUG", "") not in ("", "0")


def _lightning_cli(args: list[str], run: bool = True):
    """The LightningCLI for ``fit|validate|test`` (``run=False``: parse and build the objects only, no subcommand)."""
    import jsonargparse
    import torch
    from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

    from lit_coderl.quiet import filter_harmless_warnings, tidy_wandb_loggers
    from lit_coderl.validation import check_sizes

    filter_harmless_warnings()
    # the option dataclasses document each field with an attribute docstring: show them in --help
    jsonargparse.set_parsing_settings(docstring_parse_attribute_docstrings=True)

    from lit_coderl.data.module import CodeRLDataModule
    from lit_coderl.module import CodeRLModule
    from lit_coderl.progress import IterationLog

    # small CPU runs: one thread per process avoids oversubscription when tests or ranks share cores
    threads = os.environ.get("LIT_CODERL_THREADS")
    if threads:
        torch.set_num_threads(int(threads))

    class Parser(LightningArgumentParser):
        def error(self, message: str, ex: Exception | None = None):
            if not self.exit_on_error or _debug():
                return super().error(message, ex)
            prog = (getattr(ex, "subcommand_parser", None) or self).prog.replace(" [options]", "")
            hint = f"(run `{prog} --help` for the options; LIT_CODERL_DEBUG=1 for the parser's full report)"
            raise UserError(f"{condense_parser_error(str(message))}\n{hint}")

    class CodeRLCLI(LightningCLI):
        def add_arguments_to_parser(self, parser) -> None:
            parser.set_defaults(
                {
                    "trainer.max_epochs": 1,  # the epoch ends at model.max_iterations (the loader is endless)
                    "trainer.num_sanity_val_steps": 0,
                    "trainer.log_every_n_steps": 1,
                }
            )

        def before_instantiate_classes(self) -> None:
            config = self.config[self.subcommand] if self.subcommand else self.config
            try:
                check_sizes(config.as_dict())
            except ValueError as err:
                raise UserError(str(err)) from None

        def instantiate_classes(self) -> None:
            super().instantiate_classes()
            tidy_wandb_loggers(self.trainer)

    # LightningCLI warns when given args while sys.argv holds arguments too: it reads the resolved args from sys.argv
    saved_argv = sys.argv
    sys.argv = [saved_argv[0] if saved_argv else "lit_coderl", *args]
    try:
        return CodeRLCLI(
            CodeRLModule,
            CodeRLDataModule,
            parser_class=Parser,
            parser_kwargs={"prog": "python -m lit_coderl"},
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            # the module builds its own two-group AdamW (policy, value) and lr_schedule: no --optimizer/--lr_scheduler
            auto_configure_optimizers=False,
            trainer_defaults={"callbacks": [IterationLog()]},
            args=None,
            run=run,
        )
    finally:
        sys.argv = saved_argv


def _finish_wandb(cli) -> None:
    """Close the W&B runs a command opened: Lightning leaves them open, and a second ``main`` in the same process
    (a notebook, a script, a test) would otherwise log into the first run."""
    trainer = getattr(cli, "trainer", None)
    for logger in getattr(trainer, "loggers", None) or []:
        if type(logger).__name__ == "WandbLogger" and getattr(logger, "_experiment", None) is not None:
            logger.experiment.finish()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    command = args[0]
    if command == "configs":
        print(list_configs())
        return
    try:
        if command == "evaluate":
            from lit_coderl.evaluate.cli import main as evaluate_main

            sys.exit(evaluate_main(args[1:]))
        if command == "data":
            from lit_coderl.data.benchmarks import main as data_main

            sys.exit(data_main(args[1:]))
        if command == "models":
            from lit_coderl.model_store import main as models_main

            sys.exit(models_main(args[1:]))
        if command == "export":
            from lit_coderl.export import main as export_main

            sys.exit(export_main(args[1:]))
        cli = _lightning_cli(resolve_config_args(args))
        _finish_wandb(cli)
    except USER_ERRORS as err:
        if _debug():
            raise
        raise UserError(f"{err}\n(LIT_CODERL_DEBUG=1 shows the traceback)") from None
