"""RoboEval Temporal Logic (RTL): event patterns and operators over an execution trace.

A trace is the ordered list of robot actions a program performed (``GoTo``, ``Say``, ``Ask``, ``CheckEntity``,
``Pick``, ``Place``). Checks are boolean combinations of the operators below. Semantics follow RoboEval's
``rtl.py`` as described in ``docs/robosim-roboeval.md`` §7.2:

* every pattern is a regex searched case-insensitively (``re.search``) in the traced value;
* ``after_first`` / ``before_first`` / ``after_last`` / ``before_last`` return the WHOLE trace unchanged when no
  event matches (a quirk of the original that the benchmark's checks rely on);
* ``act_at_first(loc, c)`` means "``c`` happens during the first stay at ``loc``"; ``loc`` goes into a regex
  unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

EVENT_NAMES = ("GoTo", "Say", "Ask", "CheckEntity", "Pick", "Place")


@dataclass(frozen=True)
class TraceElement:
    """One traced robot action: ``name`` (an RTL event name), its first value and, for ``Ask``, the options."""

    name: str
    value1: Any
    value2: Any = None


def _search(pattern: str, value: Any) -> bool:
    """RoboEval's matching rule: ``re.search(pattern, str(value), IGNORECASE)`` as a bool."""
    return re.search(pattern, str(value), re.IGNORECASE) is not None


@dataclass(frozen=True)
class Pattern:
    """A static check on one trace element: event ``name``, a regex on ``value1`` and, for Ask, one on an option."""

    name: str
    value1: str
    value2: str | None = None

    def matches(self, element: TraceElement) -> bool:
        """True when ``element`` is this kind of event and its values match the regexes.

        An ``Ask`` pattern matches when its first regex matches the question and its second regex matches at
        least one of the offered options. A pattern with a second regex raises ``ValueError`` on an event whose
        second value is ``None`` (as the original does, so a checker error surfaces instead of passing silently).
        """
        if element.name != self.name or not _search(self.value1, element.value1):
            return False
        if self.value2 is None:
            return True
        if element.value2 is None:
            raise ValueError(f"pattern {self} needs a second value but event {element} has none")
        options = element.value2 if isinstance(element.value2, list | tuple) else [element.value2]
        return any(_search(self.value2, option) for option in options)


# The pattern constructors are named after the traced events, as in RoboEval's RTL.
def GoTo(location: str) -> Pattern:
    """A ``GoTo`` event whose location matches ``location``."""
    return Pattern("GoTo", location)


def Say(message: str) -> Pattern:
    """A ``Say`` event whose message matches ``message``."""
    return Pattern("Say", message)


def CheckEntity(entity: str) -> Pattern:
    """A ``CheckEntity`` event (an ``is_in_room`` call) whose entity matches ``entity``."""
    return Pattern("CheckEntity", entity)


def Pick(obj: str) -> Pattern:
    """A ``Pick`` event whose object matches ``obj``."""
    return Pattern("Pick", obj)


def Place(obj: str) -> Pattern:
    """A ``Place`` event whose object matches ``obj``."""
    return Pattern("Place", obj)


def Ask(question: str, option: str) -> Pattern:
    """An ``Ask`` event whose question matches ``question`` and one of whose options matches ``option``."""
    return Pattern("Ask", question, option)


def contain_words(words: Iterable[str]) -> str:
    """A regex matching strings that contain every word: ``^(?=.*w1)…(?=.*wn).*$`` (words may hold alternations)."""
    return "^" + "".join(f"(?=.*{word})" for word in words) + ".*$"


def contain_words_and_exclude_words(words: Iterable[str], excluded: Sequence[str]) -> str:
    """A regex for strings containing every word of ``words`` and not the whole words ``excluded``.

    Faithful to the original construction ``^(?!.*\\bx1\\b|\\bx2\\b|…)(?=.*w1)….*$``: the leading ``.*`` applies to
    the first excluded word only, so later excluded words are only rejected at the start of the string. With no
    ``words`` it is "any string without the excluded words".
    """
    exclusion = "|".join(rf"\b{re.escape(word)}\b" for word in excluded)
    inclusion = "".join(f"(?=.*{word})" for word in words) or "(?=.*)"
    return f"^(?!.*{exclusion}){inclusion}.*$"


def not_containing_word(word: str) -> str:
    """The regex ``^(?!.*\\b<word>\\b).*$`` used by ``act_at_first`` to end a stay (``word`` is not escaped)."""
    return rf"^(?!.*\b{word}\b).*$"


class Trace(list):
    """A list of `TraceElement` with RTL's sub-trace operators (each returns a new `Trace`)."""

    def _first_index(self, pattern: Pattern) -> int | None:
        return next((i for i, element in enumerate(self) if pattern.matches(element)), None)

    def _last_index(self, pattern: Pattern) -> int | None:
        return next((i for i in range(len(self) - 1, -1, -1) if pattern.matches(self[i])), None)

    def after_first(self, pattern: Pattern) -> Trace:
        """The elements strictly after the first match; the whole trace when nothing matches."""
        index = self._first_index(pattern)
        return Trace(self) if index is None else Trace(self[index + 1 :])

    def before_first(self, pattern: Pattern) -> Trace:
        """The elements strictly before the first match; the whole trace when nothing matches."""
        index = self._first_index(pattern)
        return Trace(self) if index is None else Trace(self[:index])

    def after_last(self, pattern: Pattern) -> Trace:
        """The elements strictly after the last match; the whole trace when nothing matches."""
        index = self._last_index(pattern)
        return Trace(self) if index is None else Trace(self[index + 1 :])

    def before_last(self, pattern: Pattern) -> Trace:
        """The elements strictly before the last match; the whole trace when nothing matches."""
        index = self._last_index(pattern)
        return Trace(self) if index is None else Trace(self[:index])

    def exists(self, pattern: Pattern) -> bool:
        """True when some element matches."""
        return self._first_index(pattern) is not None

    def count_matches(self, pattern: Pattern) -> int:
        """The number of matching elements."""
        return sum(1 for element in self if pattern.matches(element))

    def terminal(self, pattern: Pattern) -> bool:
        """True when the last element matches; raises ``IndexError`` on an empty trace (as the original)."""
        return pattern.matches(self[-1])

    def precedes(self, first: Pattern, then: Pattern) -> bool:
        """``after_first(first).exists(then)``; degenerates to ``exists(then)`` when ``first`` never occurs."""
        return self.after_first(first).exists(then)

    def act_at_first(self, location: str, pattern: Pattern) -> bool:
        """True when ``pattern`` occurs during the first stay at ``location``.

        The stay starts after the first ``GoTo(location)`` and ends before the next ``GoTo`` whose argument does
        not contain ``location`` as a whole word (``location`` is inserted into that regex unescaped).
        """
        if not self.exists(GoTo(location)):
            return False
        stay = self.after_first(GoTo(location)).before_first(GoTo(not_containing_word(location)))
        return stay.exists(pattern)

    def act_at_any(self, location: str, pattern: Pattern) -> bool:
        """True when ``pattern`` occurs during the first or any later stay at ``location`` (each stay checked)."""
        rest = Trace(self)
        while rest.exists(GoTo(location)):
            if rest.act_at_first(location, pattern):
                return True
            rest = rest.after_first(GoTo(location))
        return False


def trace_from_events(events: Iterable[Sequence[Any]]) -> Trace:
    """A `Trace` from ``(name, value1, value2)`` tuples, e.g. the harness's ``parse_trace`` output."""
    return Trace(TraceElement(*event) for event in events)
