"""The task checker: a task spec (`lit_coderl.robot.task_spec`) evaluated on one world's call log. Pure functions.

Inputs: the spec's ``constraints``, the world's facts (``{fact id: present}``, `lit_coderl.robot.task_world`),
the simulator's call log (`lit_coderl.robot.calls`) and the line where the program stopped. The log is replayed
into **events**: each successful call with the robot's location at that moment (``go_to``'s event is at its
destination); a call that raised did nothing and is no event. Constraints are evaluated in spec order:

- ``when`` decides whether a constraint applies in this world: ``{"fact": id, "is": bool}`` (one fact),
  ``{"any": prefix, "is": bool}`` (some fact ``prefix:*`` present) or ``{"answer_of": k, "is": text}`` (the
  answer to the ask matched by constraint ``k``; applies, and is then violated, when that ask never happened).
- A positive constraint is **satisfied** by its first matching event (after the event matched by constraint
  ``after``, when given; never when that one is unmatched); a ``never`` constraint is satisfied when no event
  matches.
- The world's score is satisfied / applicable (1.0 when nothing applies).

**Blame** (where a violation is attributed, as program lines): a ``never`` constraint blames the lines of its
matching events. A missing action blames its *near misses*, the events of the same API that failed on an argument,
the place, the content or the order; with none, the **stop line**: the line that raised when the run ended in an
error, else the program's last line (the program ended without doing it). The reward turns lines into tokens.
"""

from __future__ import annotations

import re
from typing import Any

from lit_coderl.robot.task_world import START_LOCATION, norm

ACTIONS = {"visit": "go_to", "check": "is_in_room", "ask": "ask", "say": "say", "pick": "pick", "place": "place"}
"""Constraint ``do`` → the API call that performs it."""
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def words_of(text: Any) -> str:
    """Lower-cased words of ``text`` joined by single spaces (punctuation and ``_`` are separators)."""
    return " ".join(re.findall(r"[a-z0-9']+", str(text).lower().replace("_", " ")))


def has_phrase(text: Any, phrase: Any) -> bool:
    """Whether the words of ``phrase`` occur consecutively, as whole words, in ``text``."""
    needle = words_of(phrase)
    return bool(needle) and f" {needle} " in f" {words_of(text)} "


def has_any(text: Any, alternatives: str) -> bool:
    """Whether one of the ``|``-separated phrases occurs in ``text`` (`has_phrase`)."""
    return any(has_phrase(text, alt) for alt in alternatives.split("|"))


def count_words(n: int) -> str:
    """The ways a message may say the number ``n``: ``"3|three"``, and ``"0|zero|no|none"`` for 0."""
    named = NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)
    return f"{n}|{named}" + ("|no|none" if n == 0 else "")


def numbers_stated(text: Any) -> set[int]:
    """The numbers ``text`` states, in digits or words (``"3"``, ``"three"``); ``no``/``none`` are not numbers."""
    out = set()
    for word in words_of(text).split():
        if word.isdigit():
            out.add(int(word[:20]))  # a 1000-digit word is some number all the same; never a slow int()
        elif word in NUMBER_WORDS:
            out.add(NUMBER_WORDS.index(word))
    return out


def states_count(text: Any, n: int) -> bool:
    """Whether ``text`` states the count ``n`` and no other number: ``"I found 3 rooms"`` for 3, ``"none"`` or
    ``"0"`` for 0. A message listing every number (``"0 1 2 3 …"``) states none of them."""
    stated = numbers_stated(text)
    if n == 0:
        return stated <= {0} and (0 in stated or has_any(text, "no|none"))
    return stated == {n}


def replay(calls: list[dict[str, Any]], start: str = START_LOCATION) -> list[dict[str, Any]]:
    """Events of a call log: successful calls with ``at`` (the robot's location; a ``go_to``'s destination)."""
    events, location = [], norm(start)
    for call in calls:
        if call.get("error") is not None:
            continue
        args = call.get("args") or []
        if call.get("api") == "go_to" and args:
            location = norm(args[0])
        events.append({**call, "at": location})
    return events


def _location(value: str, start: str) -> str:
    return norm(start) if value == "start" else norm(value)


def _facts_with(facts: dict[str, bool], prefix: str) -> dict[str, bool]:
    return {key[len(prefix) + 1 :]: value for key, value in facts.items() if key.startswith(prefix + ":")}


def _content_ok(c: dict[str, Any], event: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """The parts of a match that look at what was said, asked or where: everything but the API and its object."""
    args = event.get("args") or []
    if "at" in c and event["at"] != _location(c["at"], ctx["start"]):
        return False
    if "at_true" in c and event["at"] not in {norm(k) for k, v in _facts_with(ctx["facts"], c["at_true"]).items() if v}:
        return False
    text = args[0] if event["api"] == "say" and args else args[1] if event["api"] == "ask" and len(args) > 1 else ""
    if "text" in c and not has_phrase(text, c["text"]):
        return False
    if any(not has_any(text, w) for w in c.get("words", [])) or any(has_any(text, w) for w in c.get("no_words", [])):
        return False
    if "options" in c:
        offered = {norm(o) for o in args[2]} if len(args) > 2 and isinstance(args[2], list) else set()
        if not {norm(o) for o in c["options"]} <= offered:
            return False
    if "answer_of" in c:
        answer = ctx["answers"].get(int(c["answer_of"]))
        if answer is None or not has_phrase(text, answer):
            return False
    if "count" in c and not states_count(text, sum(_facts_with(ctx["facts"], c["count"]).values())):
        return False
    if c.get("count_yes") and not states_count(text, ctx["yes"]):
        return False
    if "mentions" in c:
        for name, present in _facts_with(ctx["facts"], c["mentions"]).items():
            if has_phrase(text, name) != present:
                return False
    return True


def _same_action(c: dict[str, Any], event: dict[str, Any]) -> bool:
    if event.get("api") != ACTIONS[c["do"]]:
        return False
    if "what" not in c:
        return True
    args = event.get("args") or []
    return bool(args) and norm(args[0]) == norm(c["what"])


def _applies(c: dict[str, Any], ctx: dict[str, Any]) -> bool:
    when = c.get("when")
    if not when:
        return True
    if "fact" in when:
        return bool(ctx["facts"].get(str(when["fact"]))) == bool(when["is"])
    if "any" in when:
        return any(_facts_with(ctx["facts"], when["any"]).values()) == bool(when["is"])
    answer = ctx["answers"].get(int(when["answer_of"]))
    return answer is None or has_phrase(answer, when["is"])


def check_world(spec: dict[str, Any], facts: dict[str, bool], calls: list[dict[str, Any]],
                stop_line: int | None, start: str = START_LOCATION) -> list[dict[str, Any]]:
    """One result per constraint of ``spec``: ``applicable``, ``satisfied`` (None if not applicable), ``event``
    (index of the matched event) and ``blame`` (sorted program lines of a violation)."""
    events = replay(calls, start)
    ctx = {"facts": facts, "start": start, "answers": {},
           "yes": sum(e["api"] == "ask" and has_phrase(e.get("result"), "yes") for e in events)}
    matched: list[int | None] = []
    results = []
    for index, c in enumerate(spec.get("constraints") or []):
        if not _applies(c, ctx):
            matched.append(None)
            results.append({"applicable": False, "satisfied": None, "event": None, "blame": []})
            continue
        when = c.get("when") or {}
        if "answer_of" in when and ctx["answers"].get(int(when["answer_of"])) is None:
            matched.append(None)  # the premise was never asked: violated, blamed where the program stopped
            blame = [int(stop_line)] if stop_line is not None else []
            results.append({"applicable": True, "satisfied": False, "event": None, "blame": blame})
            continue
        floor = -1
        if c.get("after") is not None:
            floor = matched[int(c["after"])] if matched[int(c["after"])] is not None else len(events)
        same = [i for i, e in enumerate(events) if _same_action(c, e)]
        hits = [i for i in same if i > floor and _content_ok(c, events[i], ctx)]
        if c.get("never"):
            lines = sorted({events[i]["line"] for i in hits if events[i].get("line") is not None})
            matched.append(None)
            results.append({"applicable": True, "satisfied": not hits, "event": None, "blame": lines})
            continue
        hit = hits[0] if hits else None
        matched.append(hit)
        if hit is not None and events[hit]["api"] == "ask":
            ctx["answers"][index] = norm(events[hit].get("result"))
        blame: list[int] = []
        if hit is None:
            blame = sorted({events[i]["line"] for i in same if events[i].get("line") is not None})
            if not blame and stop_line is not None:
                blame = [int(stop_line)]
        results.append({"applicable": True, "satisfied": hit is not None, "event": hit, "blame": blame})
    return results


def world_score(results: list[dict[str, Any]]) -> float:
    """Satisfied / applicable constraints of one world (1.0 when none applies)."""
    applicable = [r for r in results if r["applicable"]]
    return sum(bool(r["satisfied"]) for r in applicable) / len(applicable) if applicable else 1.0
