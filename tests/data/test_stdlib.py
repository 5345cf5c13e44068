"""Tests of lit_coderl/data/stdlib.py: task rows mined from documented functions of a source tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lit_coderl.data.stdlib import (
    StdlibFunctions,
    collect_functions,
    first_sentence,
    module_name,
    split_of,
    stdlib_root,
)

MODULE = textwrap.dedent(
    '''\
    """A module."""


    @decorator
    def area(width: int, height: int = 2) -> int:
        """Compute the area. Width times height.

        More text.
        """
        return width * height


    def undocumented(x):
        return x


    def stub():
        """Only a docstring and pass."""
        pass


    async def fetch(url, *, retries=3):
        """Fetch a URL!"""
        return await get(url, retries)


    class Shape:
        """A shape."""

        def scale(self, factor):
            """Scale the shape
            by a factor."""
            self.size *= factor
            return self

        def abstract(self):
            """Subclasses do this."""
            raise NotImplementedError


    def area(width):
        """A second definition of area."""
        return width
    '''
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A source tree with one good module, a package, and files that must be skipped."""
    (tmp_path / "geometry.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('def hello():\n    """Say hello."""\n    print("hi")\n')
    (tmp_path / "latin1.py").write_bytes('def f():\n    """Caf\xe9."""\n    return 1\n'.encode("latin-1"))
    (tmp_path / "broken.py").write_text('def g(:\n    """Broken."""\n    return 1\n')
    for skipped in ("tests", "site-packages", "__pycache__"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "extra.py").write_text('def h():\n    """Skipped."""\n    return 1\n')
    return tmp_path


def test_rows_of_a_tree_have_the_schema_and_exact_content(tree: Path) -> None:
    rows = StdlibFunctions(split="all", root=tree).load()
    assert [r["task_id"] for r in rows] == [
        "stdlib/geometry/Shape.scale",
        "stdlib/geometry/area",
        "stdlib/geometry/fetch",
        "stdlib/pkg/hello",
    ]
    by_id = {r["task_id"]: r for r in rows}
    area = by_id["stdlib/geometry/area"]
    assert set(area) == {"task_id", "messages", "reference"}
    assert area["messages"] == [
        {
            "role": "user",
            "content": "Write a Python function `area(width: int, height: int=2) -> int`. Compute the area.",
        },
    ]
    assert area["reference"] == (
        'def area(width: int, height: int = 2) -> int:\n    """Compute the area. Width times height.\n\n'
        '    More text.\n    """\n    return width * height\n'
    )
    scale = by_id["stdlib/geometry/Shape.scale"]
    assert scale["messages"][0]["content"] == (
        "Write a Python function `scale(self, factor)` (a method of class `Shape`). Scale the shape by a factor."
    )
    assert scale["reference"] == (
        'def scale(self, factor):\n    """Scale the shape\n    by a factor."""\n'
        "    self.size *= factor\n    return self\n"
    )
    assert by_id["stdlib/geometry/fetch"]["messages"][0]["content"] == (
        "Write a Python async function `fetch(url, *, retries=3)`. Fetch a URL!"
    )


def test_non_utf8_unparsable_stub_and_excluded_files_are_skipped(tree: Path) -> None:
    ids = {r["task_id"] for r in StdlibFunctions(split="all", root=tree).load()}
    assert not any(name in task_id for task_id in ids for name in ("latin1", "broken", "extra", "stub", "abstract"))
    assert "stdlib/geometry/undocumented" not in ids


def test_split_is_deterministic_disjoint_and_complete(tree: Path) -> None:
    everything = {r["task_id"] for r in StdlibFunctions(split="all", root=tree).load()}
    train = {r["task_id"] for r in StdlibFunctions(split="train", heldout_fraction=0.5, root=tree).load()}
    heldout = {r["task_id"] for r in StdlibFunctions(split="heldout", heldout_fraction=0.5, root=tree).load()}
    assert train.isdisjoint(heldout)
    assert train | heldout == everything
    assert heldout == {t for t in everything if split_of(t, 0.5) == "heldout"}
    assert heldout == {r["task_id"] for r in StdlibFunctions(split="heldout", heldout_fraction=0.5, root=tree).load()}


def test_split_of_is_a_stable_hash() -> None:
    # sha256 positions: "d" 0.096, "b" 0.243, "a" 0.791
    assert [split_of(t, 0.1) for t in ("d", "b", "a")] == ["heldout", "train", "train"]
    assert [split_of(t, 0.5) for t in ("d", "b", "a")] == ["heldout", "heldout", "train"]
    assert split_of("a", 0.0) == "train"
    assert split_of("a", 1.0) == "heldout"


def test_max_chars_and_seeded_limit(tree: Path) -> None:
    short = StdlibFunctions(split="all", max_chars=60, root=tree).load()
    assert [r["task_id"] for r in short] == ["stdlib/pkg/hello"]
    first = [r["task_id"] for r in StdlibFunctions(split="all", limit=2, seed=3, root=tree).load()]
    again = [r["task_id"] for r in StdlibFunctions(split="all", limit=2, seed=3, root=tree).load()]
    assert first == again
    assert len(first) == 2
    assert first == sorted(first)
    assert len(StdlibFunctions(split="all", limit=10, root=tree).load()) == 4


def test_rows_are_fresh_copies(tree: Path) -> None:
    rows = StdlibFunctions(split="all", root=tree).load()
    rows[0]["messages"][0]["content"] = "changed"
    assert StdlibFunctions(split="all", root=tree).load()[0]["messages"][0]["content"] != "changed"


def test_bad_arguments_and_roots_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        StdlibFunctions(split="test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heldout_fraction"):
        StdlibFunctions(heldout_fraction=1.5)
    with pytest.raises(ValueError, match="max_chars"):
        StdlibFunctions(max_chars=0)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        StdlibFunctions(root=tmp_path / "missing").load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no documented functions"):
        StdlibFunctions(root=tmp_path / "empty").load()


def test_helpers() -> None:
    assert first_sentence("  Scan the string s\n  for a JSON string.  More.\n\nDetails.") == (
        "Scan the string s for a JSON string."
    )
    assert first_sentence("Version 1.2 is out") == "Version 1.2 is out"
    assert first_sentence("   ") == ""
    assert module_name(Path("/r/json/decoder.py"), Path("/r")) == "json.decoder"
    assert module_name(Path("/r/json/__init__.py"), Path("/r")) == "json"
    assert module_name(Path("/r/__init__.py"), Path("/r")) == "__init__"


def test_default_root_is_the_running_stdlib() -> None:
    root = StdlibFunctions().root
    assert (root / "json" / "decoder.py").is_file()
    assert root == stdlib_root()


def test_a_real_stdlib_package_gives_a_deterministic_disjoint_split() -> None:
    root = stdlib_root() / "tkinter"  # a package, not the whole stdlib: parsing all of it takes seconds
    train = StdlibFunctions(split="train", root=root).load()
    heldout = StdlibFunctions(split="heldout", root=root).load()
    train_ids, heldout_ids = {r["task_id"] for r in train}, {r["task_id"] for r in heldout}
    assert len(train) > 400
    assert train_ids.isdisjoint(heldout_ids)
    assert 0.05 < len(heldout) / (len(train) + len(heldout)) < 0.15
    assert all(len(r["reference"]) <= 1200 for r in train + heldout)
    by_id = {r["task_id"]: r for r in train + heldout}
    assert by_id["stdlib/font/Font.cget"]["messages"][0]["content"] == (
        "Write a Python function `cget(self, option)` (a method of class `Font`). Get font attribute"
    )
    assert by_id["stdlib/font/Font.cget"]["reference"].startswith("def cget(self, option):\n")
    assert collect_functions.cache_info().currsize >= 1
