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

USAGE = """usage: python -m lit_coderl {fit,validate,test,evaluate,export,plot,configs,data,models} ...

  fit       train with PPO                 (python -m lit_coderl fit --config demo.yaml [--data-dir DIR])
  validate  score held-out prompts         (python -m lit_coderl validate --config ... --ckpt_path ...)
  test      same, on the test dataloader
  evaluate  benchmark generations          (python -m lit_coderl evaluate KIND --samples FILE.jsonl)
  export    checkpoint -> HF model dir     (python -m lit_coderl export --ckpt_path CKPT --out DIR [--merge])
  plot      a run's curves as a PNG        (python -m lit_coderl plot runs/demo)
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
    from lit_coderl.resume import continue_loggers, read_run_state, resolve_checkpoint
    from lit_coderl.validation import check_sizes

    filter_harmless_warnings()
    # the option dataclasses document each field with an attribute docstring: show them in --help
    jsonargparse.set_parsing_settings(docstring_parse_attribute_docstrings=True)

    from lit_coderl.data.module import CodeRLDataModule
    from lit_coderl.module import CodeRLModule
    from lit_coderl.progress import IterationLog, IterationProgressBar

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
            parser.add_argument(
                "--remove_callbacks",
                type=list[str] | str,
                default=[],
                help="Callbacks to leave out of trainer.callbacks, by class name, class_path or reward name (e.g. "
                "LintReward, [LintReward, syntax]), so an overlay need not re-list the rest. Add one with "
                "--trainer.callbacks+=CLASS_PATH (or a `callbacks+:` key in a config).",
            )
            # read by `main` before the parser sees the arguments (it sets the benchmark data folder for every
            # source), so it is not a parser option: the help says it here
            parser.epilog = (
                "--data-dir DIR: benchmark data folder (MBPP, MBPP+, RoboEval) for every data source and evaluation "
                "callback without a data_dir of its own; default: LIT_CODERL_DATA_DIR, then the user cache "
                "(`python -m lit_coderl data fetch mbpp`)."
            )
            parser.set_defaults(
                {
                    # the run ends at model.max_iterations (the module stops the trainer; the loader is endless), not
                    # at an epoch count: resuming a finished run with a larger max_iterations then goes on
                    "trainer.max_epochs": -1,
                    "trainer.num_sanity_val_steps": 0,
                    "trainer.log_every_n_steps": 1,
                    # Lightning's module table (one row, FLOPs 0, train/eval module counts): IterationLog prints a
                    # one-line summary instead
                    "trainer.enable_model_summary": False,
                }
            )

        def before_instantiate_classes(self) -> None:
            config = self.config[self.subcommand] if self.subcommand else self.config
            try:
                edit_callbacks(config)
                loggers_follow_root(config, config_roots(args))
                check_sizes(config.as_dict())
                # a checkpoint that is not there fails now, before any model loads or run folder is made
                checkpoint = resolve_checkpoint(config)
                self.resume_state = read_run_state(checkpoint) if checkpoint and self.subcommand == "fit" else {}
            except (ValueError, FileNotFoundError) as err:
                raise UserError(str(err)) from None

        def _parse_ckpt_path(self) -> None:
            # LightningCLI would replace the model's config by the hyper-parameters saved in a checkpoint given by
            # path (not for `last`), command-line values included: the config defines the resumed run, so that
            # `--model.max_iterations` can extend it (the base model's identity is still checked on load)
            return None

        def instantiate_classes(self) -> None:
            super().instantiate_classes()
            tidy_wandb_loggers(self.trainer)
            if getattr(self, "resume_state", None):
                continue_loggers(self.trainer, self.resume_state)  # the same CSV version, the same W&B run

        def _instantiate_trainer(self, config: dict, callbacks: list):
            # the bar counted in iterations, unless the bar is off or the config brings its own
            from lightning.pytorch.callbacks import ProgressBar

            given = [*(config.get("callbacks") or []), *callbacks]
            if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in given):
                callbacks = [*callbacks, IterationProgressBar()]
            return super()._instantiate_trainer(config, callbacks)

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


def edit_callbacks(config) -> None:
    """Apply ``remove_callbacks`` and add an `IterationCheckpoint` when ``trainer.callbacks`` has none (and
    checkpointing is on). The config is edited in place, so the saved ``config.yaml`` runs as it ran."""
    from jsonargparse import Namespace

    from lit_coderl.callback_list import CHECKPOINT_CLASS, has_checkpoint, remove_callbacks

    callbacks = config.trainer.callbacks
    callbacks = [] if callbacks is None else list(callbacks) if isinstance(callbacks, list) else [callbacks]
    names = config.get("remove_callbacks") or []
    callbacks = remove_callbacks(callbacks, [names] if isinstance(names, str) else list(names))
    config.remove_callbacks = []
    if config.trainer.get("enable_checkpointing") is not False and not has_checkpoint(callbacks):
        callbacks.append(Namespace(class_path=CHECKPOINT_CLASS, init_args=Namespace()))
    config.trainer.callbacks = callbacks


def config_roots(args: list[str]) -> set[str]:
    """The ``trainer.default_root_dir`` values the ``--config`` files set (a file that is not YAML sets none)."""
    import yaml

    roots = set()
    for path in config_paths(args):
        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.safe_load(f)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        root = ((loaded or {}).get("trainer") or {}).get("default_root_dir") if isinstance(loaded, dict) else None
        if isinstance(root, str):
            roots.add(root)
    return roots


def loggers_follow_root(config, roots: set[str]) -> None:
    """``trainer.default_root_dir`` is the one output root: loggers follow it as the checkpoints do.

    A logger's ``save_dir`` that is unset, or that is a root a config file set (the shipped configs write
    ``save_dir: runs/demo`` next to ``default_root_dir: runs/demo``), becomes the final ``default_root_dir``, so
    ``--trainer.default_root_dir runs/other`` moves the whole run; any other ``save_dir`` is the user's choice and
    stays."""
    root = config.trainer.get("default_root_dir") or "."
    loggers = config.trainer.get("logger")
    for entry in loggers if isinstance(loggers, list) else [loggers]:
        init_args = entry.get("init_args") if hasattr(entry, "get") else None
        if init_args is None or "save_dir" not in init_args:
            continue
        if init_args.get("save_dir") is None or init_args.get("save_dir") in roots:
            init_args["save_dir"] = root


def take_data_dir(args: list[str]) -> tuple[list[str], str | None]:
    """``args`` without ``--data-dir DIR`` / ``--data-dir=DIR``, and DIR (benchmark data, as ``evaluate`` takes it)."""
    rest, data_dir, i = [], None, 0
    while i < len(args):
        if args[i] == "--data-dir" and i + 1 < len(args):
            data_dir, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--data-dir="):
            data_dir = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    if data_dir is not None and not os.path.isdir(os.path.expanduser(data_dir)):
        raise FileNotFoundError(f"--data-dir {data_dir}: no such folder")
    return rest, data_dir


def _finish_wandb(cli) -> None:
    """Close the W&B runs a command opened: Lightning leaves them open, and a second ``main`` in the same process
    (a notebook, a script, a test) would otherwise log into the first run."""
    trainer = getattr(cli, "trainer", None)
    for logger in getattr(trainer, "loggers", None) or []:
        if type(logger).__name__ == "WandbLogger" and getattr(logger, "_experiment", None) is not None:
            logger.experiment.finish()


def version() -> str:
    """The installed distribution's version (the package's own when run from a checkout without install)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("lit_coderl")
    except PackageNotFoundError:
        from lit_coderl import __version__

        return __version__


def config_paths(args: list[str]) -> list[str]:
    """The files given with ``--config X``, ``--config=X`` or ``-c X``."""
    paths = []
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            paths.append(args[i + 1])
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
    return paths


def check_yaml(path: str) -> None:
    """Raise `ValueError` ``FILE:LINE:COLUMN: problem`` for a config that is not well-formed YAML.

    jsonargparse reports only the parser's message ("while parsing a flow sequence"), without the file or line.
    """
    import yaml

    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        return  # the parser reports a missing or unreadable file with its own message
    try:
        yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        what = " ".join(part for part in (err.context, err.problem) if part)
        raise ValueError(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None


def import_from_cwd() -> None:
    """Put the current directory first on ``sys.path``, as ``python -m lit_coderl`` does.

    A console script's ``sys.path[0]`` is the script's own folder (``.venv/bin``), so without this a user's
    ``class_path: my_reward.MyReward`` next to their config imports under ``python -m`` but not under ``lit-coderl``.
    """
    cwd = os.getcwd()
    if not any(entry in ("", cwd) or os.path.abspath(entry or ".") == cwd for entry in sys.path):
        sys.path.insert(0, cwd)


def main(argv: list[str] | None = None) -> None:
    import_from_cwd()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    command = args[0]
    if command in ("--version", "-V", "version"):
        print(f"lit_coderl {version()}")
        return
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
        if command == "plot":
            from lit_coderl.plot import main as plot_main

            sys.exit(plot_main(args[1:]))
        if command == "models":
            from lit_coderl.model_store import main as models_main

            sys.exit(models_main(args[1:]))
        if command == "export":
            from lit_coderl.export import main as export_main

            sys.exit(export_main(args[1:]))
        args, data_dir = take_data_dir(resolve_config_args(args))
        for path in config_paths(args):
            check_yaml(path)
        from lit_coderl.data.benchmarks import ENV_DATA_DIR

        saved = os.environ.get(ENV_DATA_DIR)
        if data_dir is not None:  # read by every benchmark source without a data_dir of its own
            os.environ[ENV_DATA_DIR] = os.path.abspath(os.path.expanduser(data_dir))
        try:
            cli = _lightning_cli(args)
            _finish_wandb(cli)
        finally:
            if data_dir is not None:
                if saved is None:
                    os.environ.pop(ENV_DATA_DIR, None)
                else:
                    os.environ[ENV_DATA_DIR] = saved
    except USER_ERRORS as err:
        if _debug():
            raise
        raise UserError(f"{err}\n(LIT_CODERL_DEBUG=1 shows the traceback)") from None
