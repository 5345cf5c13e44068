"""The procedural robot task generator."""

import pytest

from lit_coderl.robot.decontamination import Decontaminator, load_roboeval_prompts, token_similarity, tokenize
from lit_coderl.robot.generator import TEMPLATES, draw_task, generate_pairs, generate_tasks
from lit_coderl.robot.harness import extract_program
from lit_coderl.robot.robosim import verify_program


def test_token_similarity_exact_values():
    assert token_similarity(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert token_similarity(["a", "b"], ["a", "b", "c", "d"]) == pytest.approx(0.5)
    assert token_similarity([], []) == 1.0
    assert token_similarity(["a"], []) == 0.0
    assert tokenize("Go to Bob's office!") == ["go", "to", "bob", "'", "s", "office", "!"]


def test_decontaminator_flags_near_copies_only():
    clean = Decontaminator(["Go to the kitchen and say hello to everyone"])
    assert clean.is_contaminated("Go to the kitchen and say hi to everyone")
    assert clean.max_similarity("Go to the kitchen and say hi to everyone") == pytest.approx(8 / 9)
    assert not clean.is_contaminated("Count how many rooms have a lamp")


def test_generated_pairs_avoid_the_references():
    pairs = generate_pairs(50, seed=1)
    banned = Decontaminator([pairs[0][0], pairs[1][0]])
    kept = [instruction for instruction, _ in generate_pairs(50, seed=1, decontaminator=banned)]
    assert pairs[0][0] not in kept and pairs[1][0] not in kept
    assert not any(banned.is_contaminated(instruction) for instruction in kept)


def test_rows_are_seeded_and_well_formed():
    rows = generate_tasks(40, seed=5, data_dir=None)
    assert rows == generate_tasks(40, seed=5, data_dir=None)
    other = generate_tasks(40, seed=6, data_dir=None)
    assert [r["robot"]["instruction"] for r in rows] != [r["robot"]["instruction"] for r in other]
    row = rows[0]
    assert row["task_id"] == "robogen-5-00000"
    assert set(row["robot"]) == {"instruction", "program", "spec"}
    assert row["messages"] == [{"role": "user", "content": "Instruction: " + row["robot"]["instruction"]}]
    assert row["reference"] == "```python\n" + row["robot"]["program"] + "\n```"
    assert extract_program(row["reference"]) == row["robot"]["program"] + "\n"
    paper = generate_tasks(1, seed=5, style="paper", data_dir=None)[0]["messages"]
    assert [m["role"] for m in paper] == ["system", "user", "assistant", "user"]
    with pytest.raises(ValueError, match="non-negative"):
        generate_tasks(-1, 0)


def test_every_template_yields_accepted_programs():
    import random

    for template in TEMPLATES:
        rng = random.Random(template["name"])
        for _ in range(5):
            code = draw_task(template, rng)["program"]
            verdict = verify_program(code, worlds=20, seed=11)
            assert verdict["accepted"], (template["name"], code, verdict["message"])


def test_two_thousand_distinct_accepted_uncontaminated_short_tasks(data_dir):
    rows = generate_tasks(2000, seed=0, data_dir=data_dir)
    instructions = [r["robot"]["instruction"] for r in rows]
    assert len(set(instructions)) == 2000
    references = load_roboeval_prompts(data_dir)
    assert len(references) == 80
    assert not set(instructions) & set(references)
    decontaminator = Decontaminator(references)
    assert not [i for i in instructions if decontaminator.is_contaminated(i)]
    rejected = [r["task_id"] for r in rows if not verify_program(r["robot"]["program"], worlds=5)["accepted"]]
    assert rejected == []
    lengths = sorted(len(tokenize(r["robot"]["program"])) for r in rows)
    assert lengths[int(0.9 * len(lengths))] <= 120
