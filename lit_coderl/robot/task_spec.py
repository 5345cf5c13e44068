"""Task specs: the machine-checkable task check every generated robot task carries, and its driver.

A spec is plain data (JSON-able), made by the generator from the template that made the task
(`lit_coderl.robot.generator.expand_spec`)::

    {"template": "fetch_if_present",
     "rooms": ["loc_a", "loc_b", "loc_c", "start_loc"],          # what get_all_rooms() returns in its worlds
     "facts": [{"id": "here", "at": "kitchen", "entity": "apple", "p": 0.5}],   # drawn per world
     "constraints": [
         {"do": "visit", "what": "kitchen"},
         {"do": "pick", "what": "apple", "at": "kitchen", "when": {"fact": "here", "is": true}, "label": "picked"},
         {"do": "place", "what": "apple", "at": "start", "after": 2, "when": {"fact": "here", "is": true}},
         {"do": "say", "at": "start", "words": ["no|not|none"], "when": {"fact": "here", "is": false}}]}

Constraint keys (`lit_coderl.robot.task_check` evaluates them):

- ``do``: ``visit`` (``go_to``), ``check`` (``is_in_room``), ``ask``, ``say``, ``pick``, ``place``.
- ``what``: the location of a visit, the entity of a check, pick or place, the person asked.
- ``at``: where the robot must be (a location, or ``"start"``: where it started); ``at_true``: at a location
  whose fact ``<prefix>:<location>`` holds in this world.
- content of a ``say`` (the message) or an ``ask`` (the question): ``text`` (a phrase that must occur),
  ``words`` (each item ``"a|b"``: one of the phrases must occur), ``no_words`` (none may occur), ``answer_of``
  (the answer to the ask matched by constraint *k* must occur), ``count`` (the number of facts ``<prefix>:*``
  that hold, in digits or words, and no other number), ``count_yes`` (the number of asks answered yes, likewise),
  ``mentions`` (for each fact ``<prefix>:<name>``, ``name`` occurs exactly when the fact holds); ``options`` (an
  ask offers all of them).
- order and world: ``after`` (only after the event that satisfied constraint *k*), ``when`` (``{"fact": id,
  "is": bool}``, ``{"any": prefix, "is": bool}`` or ``{"answer_of": k, "is": text}``), ``never`` (no such event
  may happen). ``label`` names a constraint for readers.

`check_program` is the driver: the program runs in K task-check worlds (`lit_coderl.robot.task_world`), each via a
runner (a sandbox job in production); the spec is evaluated here, on the simulator's call log, outside the program.
"""

from __future__ import annotations

from typing import Any

from lit_coderl.robot.harness import PROGRAM_HEADER
from lit_coderl.robot.runner import InProcessRunner
from lit_coderl.robot.task_check import ACTIONS, check_world, world_score
from lit_coderl.robot.task_world import draw_facts, world_of

KEYS = {"do", "what", "at", "at_true", "text", "words", "no_words", "answer_of", "count", "count_yes", "mentions",
        "options", "after", "when", "never", "label"}


def validate_spec(spec: Any) -> list[str]:
    """Problems of a spec (empty when it is well formed): unknown keys or actions, references forward."""
    if not isinstance(spec, dict):
        return ["a spec is a dict"]
    problems = []
    facts = {str(f.get("id")) for f in spec.get("facts") or [] if isinstance(f, dict)}
    for index, c in enumerate(spec.get("constraints") or []):
        if not isinstance(c, dict) or c.get("do") not in ACTIONS:
            problems.append(f"constraint {index}: 'do' must be one of {sorted(ACTIONS)}")
            continue
        problems += [f"constraint {index}: unknown key {key!r}" for key in sorted(set(c) - KEYS)]
        when = c.get("when") or {}
        for ref in (c.get("after"), c.get("answer_of"), when.get("answer_of")):
            if ref is not None and not (isinstance(ref, int) and 0 <= ref < index):
                problems.append(f"constraint {index}: reference {ref!r} is not an earlier constraint")
        if "fact" in when and str(when["fact"]) not in facts:
            problems.append(f"constraint {index}: unknown fact {when['fact']!r}")
    return problems


def last_line(code: str) -> int | None:
    """The 1-based line of the program's last non-blank line after the ``def`` line (None for an empty body)."""
    lines = code.split("\n")
    for number in range(len(lines), 1, -1):
        if lines[number - 1].strip():
            return number
    return None


def check_program(code: str, spec: dict[str, Any], worlds: int = 3, seed: int = 0, world_timeout_s: float = 1.0,
                  runner=None) -> dict[str, Any]:
    """Run ``code`` in ``worlds`` task-check worlds of ``spec`` and evaluate the spec on each call log.

    Returns ``{"score"`` (mean world score), ``"worlds"``: per world ``{"world", "status", "error_line",
    "stop_line", "facts", "score", "results"}`` (`lit_coderl.robot.task_check.check_world`'s results)``}``.
    ``stop_line`` is the line that raised or timed out, else the program's last line. A program without a body
    scores 0 in every world without running.
    """
    runner = runner or InProcessRunner()
    header = PROGRAM_HEADER.rstrip("\n")
    body = code[len(header):] if isinstance(code, str) and code.startswith(header) else code
    out = []
    for world in range(int(worlds)):
        facts = draw_facts(spec, seed, world)
        if not isinstance(code, str) or not str(body).strip():
            out.append({"world": world, "status": "error", "error_line": None, "stop_line": None, "facts": facts,
                        "score": 0.0, "results": []})
            continue
        result = runner(world_of(spec, code, seed, world), world_timeout_s)
        stop = result.error_line if result.status != "ok" and result.error_line is not None else last_line(code)
        results = check_world(spec, facts, result.calls, stop)
        out.append({"world": world, "status": result.status, "error_line": result.error_line, "stop_line": stop,
                    "facts": facts, "score": world_score(results), "results": results})
    return {"score": sum(w["score"] for w in out) / max(1, len(out)), "worlds": out}
