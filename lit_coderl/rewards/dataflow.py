"""`DataFlowReward`: CodeBLEU's data-flow match between the generated code and the task's reference solution.

CodeBLEU (Ren et al. 2020) extracts a data-flow graph (DFG) with GraphCodeBERT's ``DFG_python`` over a tree-sitter
parse: every identifier and literal token is a node; an assignment makes each token of its left side
``computedFrom`` every token of its right side; a use of a name ``comesFrom`` the tokens where that name was last
defined (branches of ``if`` merge their states, ``for``/``while`` bodies are walked twice). Edges are kept only for
tokens that take part in an edge, variable names are normalised to ``var_0, var_1, ...`` in order of appearance, and
the score is the fraction of the reference's ``(var, relation, parents)`` triples found in the candidate (each used
once). This module reproduces those rules on Python's own `ast`, so no tree-sitter is needed. Differences: code that
does not parse scores 0 (tree-sitter would recover a partial tree), and merged parent lists keep source order
instead of CodeBLEU's (hash-seed dependent) set order.

The paper's ``calculate_dfg_match`` (coefficient 0.1) uses ``match − 0.5`` and only when that is positive:
``DataFlowReward(offset=0.5, positive_only=True)``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from lit_coderl.rewards.base import RewardComponent
from lit_coderl.rewards.spans import SpreadMode, spread

if TYPE_CHECKING:
    from lit_coderl.rollout import Rollout

Edge = tuple[str, int, str, list[str], list[int]]
"""``(token, index, relation, parent tokens, parent indices)`` as in GraphCodeBERT."""
NormalizedEdge = tuple[str, str, list[str]]

COMES_FROM = "comesFrom"
COMPUTED_FROM = "computedFrom"


@dataclass(frozen=True)
class _Leaf:
    """A token of the code: an identifier or a literal, with its source position."""

    code: str
    position: tuple[int, int]
    is_identifier: bool


_SKIPPED = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


class _DataFlow:
    """GraphCodeBERT's ``DFG_python`` rules applied to a Python `ast` tree."""

    def __init__(self, source: str, tree: ast.Module) -> None:
        self.source = source
        self.source_lines = source.split("\n")
        self._own: dict[int, list[_Leaf]] = {}
        self._all: dict[int, list[_Leaf]] = {}
        leaves = sorted({leaf for leaf in self.leaves(tree)}, key=lambda leaf: leaf.position)
        self.index = {leaf: i for i, leaf in enumerate(leaves)}
        self.tree = tree

    # tokens ---------------------------------------------------------------------------------------------------

    def _segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node)
        return text if text is not None else repr(getattr(node, "value", ""))

    def own_leaves(self, node: ast.AST) -> list[_Leaf]:
        """Tokens a node holds itself (not through a child node)."""
        key = id(node)
        if key in self._own:
            return self._own[key]
        leaves: list[_Leaf] = []
        if isinstance(node, ast.Name):
            leaves.append(_Leaf(node.id, (node.lineno, node.col_offset), True))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)):
            leaves.append(_Leaf(self._segment(node), (node.lineno, node.col_offset), False))
        elif isinstance(node, ast.Attribute):
            leaves.append(_Leaf(node.attr, (node.end_lineno, node.end_col_offset - len(node.attr.encode())), True))
        elif isinstance(node, ast.arg):
            leaves.append(_Leaf(node.arg, (node.lineno, node.col_offset), True))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            leaves.append(_Leaf(node.name, (node.lineno, node.col_offset + 1), True))
        elif isinstance(node, ast.keyword) and node.arg is not None:
            leaves.append(_Leaf(node.arg, (node.lineno, node.col_offset), True))
        elif isinstance(node, ast.alias):
            col = node.col_offset
            for part in node.name.split("."):
                leaves.append(_Leaf(part, (node.lineno, col), True))
                col += len(part) + 1
            if node.asname:
                leaves.append(_Leaf(node.asname, (node.end_lineno, node.end_col_offset - len(node.asname)), True))
        elif isinstance(node, ast.ImportFrom) and node.module:
            line = self.source_lines[node.lineno - 1].encode()
            col = line.find(node.module.split(".")[0].encode(), node.col_offset + 4)
            for part in node.module.split("."):
                leaves.append(_Leaf(part, (node.lineno, col), True))
                col += len(part.encode()) + 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            leaves += [_Leaf(name, (node.lineno, node.col_offset + i + 1), True) for i, name in enumerate(node.names)]
        elif isinstance(node, ast.ExceptHandler) and node.name and node.type is not None:
            leaves.append(_Leaf(node.name, (node.type.end_lineno, node.type.end_col_offset + 1), True))
        self._own[key] = leaves
        return leaves

    def children(self, node: ast.AST) -> list[ast.AST]:
        """Child nodes that carry tokens, in source order."""
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            return []  # a string is one token, f-strings included
        kids = [c for c in ast.iter_child_nodes(node) if not isinstance(c, _SKIPPED) and self.leaves(c)]
        return sorted(kids, key=lambda c: self.leaves(c)[0].position)

    def leaves(self, node: ast.AST) -> list[_Leaf]:
        """Every token under a node, in source order (``tree_to_variable_index``)."""
        key = id(node)
        if key not in self._all:
            found = list(self.own_leaves(node))
            if not isinstance(node, (ast.Constant, ast.JoinedStr)):
                for child in ast.iter_child_nodes(node):
                    if not isinstance(child, _SKIPPED):
                        found += self.leaves(child)
            self._all[key] = sorted(found, key=lambda leaf: leaf.position)
        return self._all[key]

    def items(self, node: ast.AST) -> list[ast.AST | _Leaf]:
        """Own tokens and child nodes of a node, in source order."""
        entries: list[tuple[tuple[int, int], int, ast.AST | _Leaf]] = [
            (leaf.position, 0, leaf) for leaf in self.own_leaves(node)
        ]
        entries += [(self.leaves(c)[0].position, 1, c) for c in self.children(node)]
        return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1]))]

    # data flow ------------------------------------------------------------------------------------------------

    def leaf_flow(self, leaf: _Leaf, states: dict) -> tuple[list[Edge], dict]:
        idx = self.index[leaf]
        if leaf.code in states:
            return [(leaf.code, idx, COMES_FROM, [leaf.code], list(states[leaf.code]))], states
        if leaf.is_identifier:
            states[leaf.code] = [idx]
        return [(leaf.code, idx, COMES_FROM, [], [])], states

    def flow(self, node: ast.AST | _Leaf, states: dict) -> tuple[list[Edge], dict]:
        if isinstance(node, _Leaf):
            return self.leaf_flow(node, states)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            return self.assignment(node, states)
        if isinstance(node, ast.comprehension):  # tree-sitter's for_in_clause; its `if`s are the parent's children
            edges, states = self.flow(node.iter, states)
            edges += self.assign_edges(self.leaves(node.target), self.leaves(node.iter), states)
            return _by_index(edges), states
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return self.for_loop(node, states)
        if isinstance(node, ast.While):
            edges: list[Edge] = []
            for _ in range(2):
                for item in self.items(node):
                    more, states = self.flow(item, states)
                    edges += more
            return _merge_same_token(edges), states
        if isinstance(node, ast.If):
            return self.if_statement(node, states)
        if isinstance(node, ast.arguments):
            return self.parameters(node, states)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            edges = []
            items = self.items(node)
            clauses = [i for i in items if isinstance(i, ast.comprehension)]
            conditions = sorted((c for clause in clauses for c in clause.ifs), key=lambda c: self.leaves(c)[0].position)
            rest = [i for i in items if not isinstance(i, ast.comprehension)]
            for item in clauses + rest + conditions:
                more, states = self.flow(item, states)
                edges += more
            return _by_index(edges), states
        edges = []
        for item in self.items(node):
            more, states = self.flow(item, states)
            edges += more
        return _by_index(edges), states

    def assign_edges(self, left: list[_Leaf], right: list[_Leaf], states: dict) -> list[Edge]:
        """``computedFrom`` edges of every left token from every right token; the left tokens become definitions."""
        right_tokens = [(leaf.code, self.index[leaf]) for leaf in right]
        edges = []
        for leaf in left:
            idx = self.index[leaf]
            edges.append((leaf.code, idx, COMPUTED_FROM, [c for c, _ in right_tokens], [i for _, i in right_tokens]))
            states[leaf.code] = [idx]
        return edges

    def pairs(self, left: ast.AST, right: ast.AST) -> list[tuple[list[_Leaf], list[_Leaf]]]:
        """tree-sitter pairs the non-comma children of the two sides when their counts agree (whatever they are:
        ``a, b = f(x)`` pairs ``a`` with ``f`` and ``b`` with ``(x)``), else takes the sides whole."""
        lefts, rights = self._ts_children(left), self._ts_children(right)
        if lefts is not None and rights is not None and lefts and len(lefts) == len(rights):
            return list(zip(lefts, rights, strict=True))
        return [(self.leaves(left), self.leaves(right))]

    def _ts_children(self, node: ast.AST) -> list[list[_Leaf]] | None:
        """Tokens of each non-comma child tree-sitter gives a node (punctuation and keywords have none); ``None``
        when the shape is not modelled."""
        punctuation: list[_Leaf] = []
        if isinstance(node, (ast.Name, ast.Constant, ast.JoinedStr)):
            return []
        if isinstance(node, ast.Tuple):
            elements = [self.leaves(e) for e in node.elts]
            line = self.source_lines[node.lineno - 1].encode()
            return [punctuation, *elements, punctuation] if line[node.col_offset :].startswith(b"(") else elements
        if isinstance(node, (ast.List, ast.Set)):
            return [punctuation, *[self.leaves(e) for e in node.elts], punctuation]
        if isinstance(node, ast.Call):
            arguments = sorted([leaf for a in [*node.args, *node.keywords] for leaf in self.leaves(a)],
                               key=lambda leaf: leaf.position)
            return [self.leaves(node.func), arguments]
        if isinstance(node, ast.BinOp):
            return [self.leaves(node.left), punctuation, self.leaves(node.right)]
        if isinstance(node, ast.Compare):
            children = [self.leaves(node.left)]
            for comparator in node.comparators:
                children += [punctuation, self.leaves(comparator)]
            return children
        if isinstance(node, ast.Attribute):
            return [self.leaves(node.value), punctuation, self.own_leaves(node)]
        if isinstance(node, ast.Subscript):
            return [self.leaves(node.value), punctuation, self.leaves(node.slice), punctuation]
        if isinstance(node, ast.UnaryOp):
            return [punctuation, self.leaves(node.operand)]
        if isinstance(node, ast.Starred):
            return [punctuation, self.leaves(node.value)]
        return None

    def assignment(self, node: ast.Assign | ast.AugAssign | ast.AnnAssign, states: dict) -> tuple[list[Edge], dict]:
        if node.value is None:
            return [], states
        edges, states = self.flow(node.value, states)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for left, right in self.pairs(target, node.value):
                edges += self.assign_edges(left, right, states)
        return _by_index(edges), states

    def for_loop(self, node: ast.For | ast.AsyncFor, states: dict) -> tuple[list[Edge], dict]:
        edges: list[Edge] = []
        for _ in range(2):
            more, states = self.flow(node.iter, states)
            edges += more
            for left, right in self.pairs(node.target, node.iter):
                edges += self.assign_edges(left, right, states)
            if not node.orelse:  # tree-sitter's rule walks the body only when it is the statement's last child
                for statement in node.body:
                    more, states = self.flow(statement, states)
                    edges += more
        return _merge_same_token(edges), states

    def if_statement(self, node: ast.If, states: dict) -> tuple[list[Edge], dict]:
        clauses, final_else = self._if_clauses(node)
        edges: list[Edge] = []
        current = dict(states)
        for statement in [clauses[0][0], *clauses[0][1]]:
            more, current = self.flow(statement, current)
            edges += more
        others = []
        for test, body in clauses[1:]:  # each elif starts from the states before the if
            branch = dict(states)
            for statement in [test, *body]:
                more, branch = self.flow(statement, branch)
                edges += more
            others.append(branch)
        if final_else:
            branch = dict(states)
            for statement in final_else:
                more, branch = self.flow(statement, branch)
                edges += more
            others.append(branch)
        others.append(current)
        if not final_else:
            others.append(states)
        merged: dict[str, list[int]] = {}
        for branch in others:
            for key, value in branch.items():
                merged.setdefault(key, [])
                merged[key] = merged[key] + list(value)
        return _by_index(edges), {k: sorted(set(v)) for k, v in merged.items()}

    def _if_clauses(self, node: ast.If) -> tuple[list[tuple[ast.expr, list[ast.stmt]]], list[ast.stmt]]:
        clauses = [(node.test, list(node.body))]
        orelse = node.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If) and self._is_elif(orelse[0]):
            clauses.append((orelse[0].test, list(orelse[0].body)))
            orelse = orelse[0].orelse
        return clauses, list(orelse)

    def _is_elif(self, node: ast.If) -> bool:
        line = self.source_lines[node.lineno - 1].encode()
        return line[node.col_offset :].startswith(b"elif")

    def parameters(self, node: ast.arguments, states: dict) -> tuple[list[Edge], dict]:
        positional = node.posonlyargs + node.args
        defaults: dict[int, ast.expr] = {}
        for arg, default in zip(positional[len(positional) - len(node.defaults) :], node.defaults, strict=True):
            defaults[id(arg)] = default
        for arg, default in zip(node.kwonlyargs, node.kw_defaults, strict=True):
            if default is not None:
                defaults[id(arg)] = default
        params = [a for a in [*positional, node.vararg, *node.kwonlyargs, node.kwarg] if a is not None]
        edges: list[Edge] = []
        for arg in sorted(params, key=lambda a: (a.lineno, a.col_offset)):
            default = defaults.get(id(arg))
            if default is not None and arg.annotation is None:  # tree-sitter's default_parameter
                more, states = self.flow(default, states)
                edges += more
                name = self.own_leaves(arg)[0]
                idx = self.index[name]
                edges += [(name.code, idx, COMES_FROM, [v.code], [self.index[v]]) for v in self.leaves(default)]
                states[name.code] = [idx]
                continue
            for item in [self.own_leaves(arg)[0], arg.annotation, default]:
                if item is not None:
                    more, states = self.flow(item, states)
                    edges += more
        return _by_index(edges), states


def _by_index(edges: list[Edge]) -> list[Edge]:
    return sorted(edges, key=lambda e: e[1])


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


def _merge_same_token(edges: list[Edge]) -> list[Edge]:
    merged: dict[tuple[str, int, str], tuple[list[str], list[int]]] = {}
    for code, idx, relation, parents, parent_idx in edges:
        key = (code, idx, relation)
        if key in merged:
            merged[key] = (_unique(merged[key][0] + parents), sorted(set(merged[key][1] + parent_idx)))
        else:
            merged[key] = (list(parents), list(parent_idx))
    return [(k[0], k[1], k[2], v[0], v[1]) for k, v in sorted(merged.items(), key=lambda kv: kv[0][1])]


def data_flow_graph(code: str) -> list[Edge] | None:
    """CodeBLEU's ``get_data_flow`` for Python: the filtered, merged DFG; ``None`` when the code does not parse."""
    try:
        tree = ast.parse(code)
        extractor = _DataFlow(code, tree)
        edges, _ = extractor.flow(tree, {})
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    edges = _by_index(edges)
    keep: set[int] = set()
    for _, idx, _, _, parent_idx in edges:
        if parent_idx:
            keep.add(idx)
        keep.update(parent_idx)
    by_token: dict[int, Edge] = {}
    for edge in edges:
        if edge[1] not in keep:
            continue
        if edge[1] in by_token:
            old = by_token[edge[1]]
            edge = (edge[0], edge[1], edge[2], _unique(old[3] + edge[3]), _unique(old[4] + edge[4]))
        by_token[edge[1]] = edge
    return list(by_token.values())


def normalize_dataflow(edges: list[Edge]) -> list[NormalizedEdge]:
    """Rename variables to ``var_i`` in order of first appearance (parents before the variable), as CodeBLEU does."""
    names: dict[str, str] = {}
    normalized = []
    for code, _, relation, parents, _ in edges:
        for name in [*parents, code]:
            if name not in names:
                names[name] = f"var_{len(names)}"
        normalized.append((names[code], relation, [names[p] for p in parents]))
    return normalized


def dataflow_match(candidate: str, reference: str) -> float:
    """Fraction of the reference's normalised data-flow edges found in the candidate (0 when either does not parse
    or the reference has no data flow)."""
    reference_dfg = data_flow_graph(reference)
    candidate_dfg = data_flow_graph(candidate)
    if not reference_dfg or candidate_dfg is None:
        return 0.0
    wanted = normalize_dataflow(reference_dfg)
    available = normalize_dataflow(candidate_dfg)
    matched = 0
    for edge in wanted:
        if edge in available:
            available.remove(edge)
            matched += 1
    return matched / len(wanted)


class DataFlowReward(RewardComponent):
    """Data-flow match of the generated code against the task's ``reference``, spread over the code tokens.

    Args:
        weight: Coefficient of this component (paper: 0.1).
        name: Name in logs.
        offset: Subtracted from the match ratio (paper: 0.5).
        positive_only: Give 0 instead of a negative value after the offset (paper: True).
        spreading: ``sum`` (default, length-neutral): the code tokens sum to the score; ``constant`` (the
            paper's): every code token gets it, so the sum grows with the program's length.
    """

    default_name = "dataflow"

    def __init__(
        self,
        weight: float = 0.1,
        name: str | None = None,
        offset: float = 0.0,
        positive_only: bool = False,
        spreading: SpreadMode = "sum",
    ) -> None:
        super().__init__(weight=weight, name=name)
        if spreading not in ("constant", "sum"):
            raise ValueError(f"spreading must be 'constant' or 'sum', got {spreading!r}")
        self.offset = float(offset)
        self.positive_only = bool(positive_only)
        self.spreading = spreading
        self._metrics: dict[str, float] = {}

    def sample_score(self, code: str, reference: str) -> tuple[float, float]:
        """``(match ratio, score after offset and clipping)`` of one sample."""
        match = dataflow_match(code, reference)
        value = match - self.offset
        if self.positive_only and value <= 0:
            value = 0.0
        return match, value

    def score(self, rollout: Rollout) -> torch.Tensor:
        scores = rollout.zeros()
        matches = []
        sequence = torch.zeros(rollout.batch_size)  # the verdict, for reward_placement: eos (TRL's baseline)
        for i in range(rollout.batch_size):
            task = rollout.tasks[i] if i < len(rollout.tasks) else {}
            reference = task.get("reference")
            if not isinstance(reference, str) or not reference.strip():
                continue
            match, value = self.sample_score(rollout.code(i), reference)
            matches.append(match)
            if value:
                sequence[i] = value
                scores[i] = spread(value, rollout.code_token_indices(i), rollout.response_length, self.spreading)
        self.record_sequence_scores(rollout, sequence)
        self._metrics = {
            "match": sum(matches) / len(matches) if matches else 0.0,
            "scored": len(matches) / max(1, rollout.batch_size),  # share of the batch with a reference
        }
        return scores

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)
