"""Command line: ``python -m lit_coderl {fit,validate,test} --config FILE`` (LightningCLI) and ``evaluate``.

Every hyper-parameter is a typed ``__init__`` argument with a docstring, so ``--help`` documents it and
``--print_config`` writes a YAML that runs as a config.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: python -m lit_coderl {fit,validate,test,evaluate} ...

  fit       train with PPO                 (python -m lit_coderl fit --config configs/demo.yaml)
  validate  score held-out prompts         (python -m lit_coderl validate --config ... --ckpt_path ...)
  test      same, on the test dataloader
  evaluate  benchmark generations          (python -m lit_coderl evaluate KIND --samples FILE.jsonl --out OUT.jsonl)
  export    checkpoint -> HF model dir     (python -m lit_coderl export --ckpt_path CKPT --out DIR [--merge])

Each subcommand has its own --help."""


def _lightning_cli(args: list[str], run: bool = True):
    """The LightningCLI for ``fit|validate|test`` (``run=False``: parse and build the objects only, no subcommand)."""
    import jsonargparse
    import torch
    from lightning.pytorch.cli import LightningCLI

    # the option dataclasses document each field with an attribute docstring: show them in --help
    jsonargparse.set_parsing_settings(docstring_parse_attribute_docstrings=True)

    from lit_coderl.data.module import CodeRLDataModule
    from lit_coderl.module import CodeRLModule

    # small CPU runs: one thread per process avoids oversubscription when tests or ranks share cores
    threads = os.environ.get("LIT_CODERL_THREADS")
    if threads:
        torch.set_num_threads(int(threads))

    class CodeRLCLI(LightningCLI):
        def add_arguments_to_parser(self, parser) -> None:
            parser.set_defaults(
                {
                    "trainer.max_epochs": 1,  # the epoch ends at model.max_iterations (the loader is endless)
                    "trainer.num_sanity_val_steps": 0,
                    "trainer.log_every_n_steps": 1,
                }
            )

    return CodeRLCLI(
        CodeRLModule,
        CodeRLDataModule,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    if args[0] == "evaluate":
        from lit_coderl.evaluate.cli import main as evaluate_main

        sys.exit(evaluate_main(args[1:]))
    if args[0] == "export":
        from lit_coderl.export import main as export_main

        sys.exit(export_main(args[1:]))
    _lightning_cli(args)
