"""DataFlowReward and the CodeBLEU data-flow rules on `ast`.

The expected graphs below are CodeBLEU 0.7's ``get_data_flow`` output (tree-sitter-python 0.21) for the same code,
with token indices renumbered (ours count identifier and literal tokens only; only their order matters).
"""

from __future__ import annotations

import pytest
import torch

from lit_coderl.rewards.dataflow import DataFlowReward, data_flow_graph, dataflow_match, normalize_dataflow
from lit_coderl.rollout import Rollout

ADD = "def add(a, b):\n    c = a + b\n    return c\n"


def _strip_indices(graph):
    return [(code, relation, parents) for code, _, relation, parents, _ in graph]


def test_assignment_graph_and_normalisation():
    graph = data_flow_graph("def diameter_circle(r):\n  diameter=2*r\n  return diameter\n")
    assert graph == [
        ("r", 1, "comesFrom", [], []),
        ("diameter", 2, "computedFrom", ["2", "r"], [3, 4]),
        ("2", 3, "comesFrom", [], []),
        ("r", 4, "comesFrom", ["r"], [1]),
        ("diameter", 5, "comesFrom", ["diameter"], [2]),
    ]
    assert normalize_dataflow(graph) == [
        ("var_0", "comesFrom", []),
        ("var_2", "computedFrom", ["var_1", "var_0"]),
        ("var_1", "comesFrom", []),
        ("var_0", "comesFrom", ["var_0"]),
        ("var_2", "comesFrom", ["var_2"]),
    ]


def test_while_loop_is_walked_twice_and_merged():
    code = (
        "def f(n):\n    p = 2\n    while p * p <= n:\n        if p == True:\n            i = p * 2\n"
        "        p += 1\n    return p\n"
    )
    assert _strip_indices(data_flow_graph(code)) == [
        ("n", "comesFrom", []), ("p", "computedFrom", ["2"]), ("2", "comesFrom", []), ("p", "comesFrom", ["p"]),
        ("p", "comesFrom", ["p"]), ("n", "comesFrom", ["n"]), ("p", "comesFrom", ["p"]),
        ("i", "computedFrom", ["p", "2"]), ("p", "comesFrom", ["p"]), ("2", "comesFrom", []),
        ("p", "computedFrom", ["1"]), ("1", "comesFrom", []), ("p", "comesFrom", ["p"]),
    ]
    loop_use = data_flow_graph(code)[3]
    assert loop_use[4] == [2, 12]  # `p` in the condition comes from `p = 2` and, on the second pass, `p += 1`


def test_for_target_pairs_children_like_tree_sitter():
    code = (
        "def f(str1):\n  for index,c in enumerate(str1):\n    if str1[:index+1].count(c) > 1:\n      return c\n"
        "  return 'None'\n"
    )
    graph = data_flow_graph(code)
    assert graph[1] == ("index", 2, "computedFrom", ["enumerate"], [4])  # `index` pairs with `enumerate`
    assert graph[2] == ("c", 3, "computedFrom", ["str1"], [5])  # `c` pairs with the argument list
    assert [g[0] for g in graph] == ["str1", "index", "c", "enumerate", "str1", "str1", "index", "count", "c", "c"]


def test_comprehension_and_branches():
    graph = data_flow_graph("def f(t, K):\n  res = [ele for ele in t if len(ele) != K]\n  return (res)\n")
    assert _strip_indices(graph) == [
        ("t", "comesFrom", []), ("K", "comesFrom", []),
        ("res", "computedFrom", ["ele", "ele", "t", "len", "ele", "K"]), ("ele", "comesFrom", ["ele"]),
        ("ele", "computedFrom", ["t"]), ("t", "comesFrom", ["t"]), ("len", "comesFrom", []),
        ("ele", "comesFrom", ["ele"]), ("K", "comesFrom", ["K"]), ("res", "comesFrom", ["res"]),
    ]
    branches = data_flow_graph("def f(x):\n    if x:\n        y = 1\n    elif x > 2:\n        y = 2\n    else:\n"
                               "        y = 3\n    return y\n")
    assert branches[-1][:4] == ("y", 11, "comesFrom", ["y"])
    assert len(branches[-1][4]) == 3  # the use after the if comes from all three branches


def test_imports_and_unused_names_are_dropped():
    graph = data_flow_graph("from array import array\nimport os.path as p\ndef f(nums):\n    n = len(nums)\n"
                            "    return array, n\n")
    assert [(g[0], g[3]) for g in graph] == [
        ("array", []), ("array", ["array"]), ("nums", []), ("n", ["len", "nums"]), ("len", []), ("nums", ["nums"]),
        ("array", ["array"]), ("n", ["n"]),
    ]


def test_match_scores():
    assert dataflow_match(ADD, ADD) == 1.0
    assert dataflow_match("def plus(x, y):\n    z = x + y\n    return z\n", ADD) == 1.0  # names do not matter
    assert dataflow_match("def f(x, y):\n    return 0\n", ADD) == 0.0
    half = dataflow_match("def add(a, b):\n    c = a\n    return c\n", ADD)
    assert half == 0.5  # as CodeBLEU: 3 of the reference's 6 normalised edges (names are renumbered per program)
    assert dataflow_match("def (", ADD) == 0.0  # candidate does not parse
    assert dataflow_match(ADD, "x = (") == 0.0  # reference does not parse
    assert dataflow_match(ADD, "pass\n") == 0.0  # reference has no data flow
    assert dataflow_match("\x00", ADD) == 0.0
    assert dataflow_match("x = " + "(" * 500 + "1" + ")" * 500, ADD) == 0.0  # too deep: safe zero


def _rollout(tokenizer, codes, tasks):
    return Rollout.from_texts(tokenizer, [f"```python\n{c}```" for c in codes], tasks)


def test_reward_offset_positive_only_and_spreading(tiny_tokenizer):
    wrong = "def add(a, b):\n    c = a\n    return c\n"
    tasks = [{"reference": ADD}, {"reference": ADD}, {}, {"reference": ADD}]
    rollout = _rollout(tiny_tokenizer, [ADD, wrong, ADD, "def ("], tasks)

    plain = DataFlowReward(spreading="constant").score(rollout)
    tokens = rollout.code_token_indices(0)
    assert torch.allclose(plain[0, tokens], torch.ones(len(tokens)))
    assert plain[1].max().item() == pytest.approx(0.5)
    assert torch.count_nonzero(plain[2]) == 0 and torch.count_nonzero(plain[3]) == 0

    paper = DataFlowReward(offset=0.5, positive_only=True, spreading="constant")
    scores = paper.score(rollout)
    assert scores[0, tokens[0]].item() == pytest.approx(0.5)
    assert torch.count_nonzero(scores[1]) == 0  # 0.5 - 0.5 is not positive: nothing
    assert paper.metrics() == {"match": pytest.approx((1 + 0.5 + 0) / 3), "scored": 0.75}  # 3 of 4 have a reference

    lenient = DataFlowReward(offset=0.25, positive_only=True, spreading="constant").score(rollout)
    assert lenient[1].max().item() == pytest.approx(0.25)
    negative = DataFlowReward(offset=0.9, spreading="constant").score(rollout)
    assert negative[1].min().item() == pytest.approx(0.5 - 0.9)

    summed = DataFlowReward(spreading="sum").score(rollout)
    assert summed[0].sum().item() == pytest.approx(1.0)
    assert DataFlowReward().name == "dataflow"
    with pytest.raises(ValueError, match="spreading"):
        DataFlowReward(spreading="other")
