"""What pyproject.toml cannot state: the shipped configs live in the repository's top-level ``configs/`` and a wheel
carries them as package data of ``lit_coderl`` (``lit_coderl/configs/files``), found by name from anywhere
(`lit_coderl.configs.CONFIG_DIR`). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["lit_coderl", "lit_coderl.*"]), "lit_coderl.configs.files"],
    package_dir={"lit_coderl.configs.files": "configs"},
    package_data={
        "lit_coderl": ["assets/**/*"],
        "lit_coderl.configs.files": ["*.yaml", "strategies/*.yaml"],
    },
)
