"""RTL trace operators and pattern helpers (spec §7.2)."""

import re

import pytest

from lit_coderl.robot.rtl import (
    Ask,
    CheckEntity,
    GoTo,
    Pick,
    Place,
    Say,
    Trace,
    TraceElement,
    contain_words,
    contain_words_and_exclude_words,
    not_containing_word,
    trace_from_events,
)


def make_trace(*events):
    return trace_from_events(events)


TRACE = make_trace(
    ("GoTo", "kitchen", None),
    ("CheckEntity", "apple", None),
    ("Say", "hello", None),
    ("GoTo", "office", None),
    ("Say", "bye", None),
    ("GoTo", "kitchen", None),
)


def names(trace):
    return [(e.name, e.value1) for e in trace]


def test_patterns_match_name_and_case_insensitive_regex():
    assert GoTo("KITCHEN").matches(TraceElement("GoTo", "the kitchen"))
    assert not GoTo("kitchen").matches(TraceElement("Say", "kitchen"))
    assert not Say("^bye").matches(TraceElement("Say", "good bye"))
    assert Pick("apple").matches(TraceElement("Pick", "apple"))
    assert not Place("apple").matches(TraceElement("Pick", "apple"))
    assert CheckEntity(".*").matches(TraceElement("CheckEntity", ""))


def test_ask_pattern_needs_question_and_one_option():
    event = TraceElement("Ask", "Do you want tea?", ["Yes", "No"])
    assert Ask("tea", "no").matches(event)
    assert not Ask("coffee", "yes").matches(event)
    assert not Ask("tea", "maybe").matches(event)


def test_ask_pattern_on_event_without_options_raises():
    with pytest.raises(ValueError, match="second value"):
        Ask("tea", ".*").matches(TraceElement("Ask", "tea?", None))


def test_sub_trace_operators():
    assert names(TRACE.after_first(GoTo("kitchen"))) == names(TRACE[1:])
    assert names(TRACE.before_first(GoTo("office"))) == names(TRACE[:3])
    assert names(TRACE.after_last(Say(".*"))) == [("GoTo", "kitchen")]
    assert names(TRACE.before_last(GoTo("kitchen"))) == names(TRACE[:5])
    assert isinstance(TRACE.after_first(GoTo("kitchen")), Trace)


@pytest.mark.parametrize("operator", ["after_first", "before_first", "after_last", "before_last"])
def test_operators_return_the_whole_trace_when_nothing_matches(operator):
    assert names(getattr(TRACE, operator)(GoTo("garage"))) == names(TRACE)


def test_exists_count_terminal_precedes():
    assert TRACE.exists(Say("bye"))
    assert not TRACE.exists(Pick(".*"))
    assert TRACE.count_matches(GoTo(".*")) == 3
    assert TRACE.terminal(GoTo("kitchen"))
    assert not TRACE.terminal(Say(".*"))
    with pytest.raises(IndexError):
        Trace().terminal(Say(".*"))
    assert TRACE.precedes(GoTo("office"), Say("bye"))
    assert not TRACE.precedes(GoTo("office"), Say("hello"))
    # an absent first event degenerates to exists(then)
    assert TRACE.precedes(GoTo("garage"), Say("hello"))


def test_act_at_first_is_the_first_stay():
    assert TRACE.act_at_first("kitchen", Say("hello"))
    assert not TRACE.act_at_first("kitchen", Say("bye"))
    assert TRACE.act_at_first("office", Say("bye"))
    assert not TRACE.act_at_first("garage", Say(".*"))


def test_act_at_first_stay_continues_through_goto_containing_the_word():
    trace = make_trace(
        ("GoTo", "kitchen", None),
        ("GoTo", "kitchen table", None),
        ("Say", "hi", None),
        ("GoTo", "kitchenette", None),
        ("Say", "later", None),
    )
    assert trace.act_at_first("kitchen", Say("hi"))
    # "kitchenette" does not contain the whole word "kitchen": the stay ended there
    assert not trace.act_at_first("kitchen", Say("later"))


def test_act_at_any_checks_every_stay():
    assert TRACE.act_at_any("kitchen", Say("hello"))
    assert not TRACE.act_at_any("kitchen", Say("bye"))
    trace = make_trace(("GoTo", "lab", None), ("GoTo", "hall", None), ("GoTo", "lab", None), ("Pick", "x", None))
    assert not trace.act_at_first("lab", Pick("x"))
    assert trace.act_at_any("lab", Pick("x"))
    assert not Trace().act_at_any("lab", Pick("x"))


def test_contain_words():
    pattern = contain_words(["6", "pm"])
    assert pattern == "^(?=.*6)(?=.*pm).*$"
    assert re.search(pattern, "at 6 PM", re.IGNORECASE)
    assert not re.search(pattern, "at 5 PM", re.IGNORECASE)
    # an alternation inside a word only floats its first branch (the benchmark writes '2|.*two')
    assert re.search(contain_words(["2|.*two"]), "we have two", re.IGNORECASE)
    assert not re.search(contain_words(["2|two"]), "we have two", re.IGNORECASE)


def test_contain_words_and_exclude_words_keeps_the_original_quirk():
    pattern = contain_words_and_exclude_words(["alice"], ["no", "not"])
    assert pattern == r"^(?!.*\bno\b|\bnot\b)(?=.*alice).*$"
    assert re.search(pattern, "Alice is coming", re.IGNORECASE)
    assert not re.search(pattern, "Alice said no", re.IGNORECASE)
    # only the first excluded word is searched everywhere; "not" is rejected at the start only
    assert re.search(pattern, "Alice is not coming", re.IGNORECASE)
    assert not re.search(pattern, "not Alice", re.IGNORECASE)
    any_but_start = contain_words_and_exclude_words([], ["start_loc"])
    assert any_but_start == r"^(?!.*\bstart_loc\b)(?=.*).*$"
    assert re.search(any_but_start, "kitchen") and not re.search(any_but_start, "start_loc")


def test_not_containing_word_is_unescaped():
    assert not_containing_word("sam's lab") == r"^(?!.*\bsam's lab\b).*$"
    assert re.search(not_containing_word("room 1"), "room 2")
    assert not re.search(not_containing_word("room 1"), "the room 1")
