"""The 16 RoboEval tasks: checks written as RTL code, prompts and world states loaded from ``tasks.json``.

Each check below is the code form of the plain-language description in ``roboeval/tasks.json``
(``generic_checks``, ``check_helpers`` and ``tests[].all_of``); the source quirks listed in
``docs/robosim-roboeval.md`` §7.2 are kept. Prompts, states and timeout flags are read from the data at run time.

Reading choices where the description is loose: "contains A or B" inside a ``contain_words`` lookahead is written
as a group ``(?:A|B)`` (any of the words anywhere, the meaning of the original's ``A|.*B``); "the first visit
segment of any printer room" is ``act_at_first("printer room", …)``, whose stay spans the first run of
consecutive printer-room visits; ElevatorTour's arrival Say needs ``arr`` as ``tasks.json`` states.

Licence: RoboEval is evaluation-only material (BSD-3 with a Machine Learning Restriction). Never use it for training:
this module lives under ``lit_coderl.evaluate`` and no training code imports it (``tests/test_evaluation_only.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal

from lit_coderl.robot.roboeval import DEFAULT_STATE_TIMEOUT_S, RoboEvalTask, RoboEvalTest, evaluate_task_program
from lit_coderl.robot.rtl import (
    Ask,
    CheckEntity,
    GoTo,
    Pattern,
    Pick,
    Place,
    Say,
    Trace,
    contain_words,
    contain_words_and_exclude_words,
)

Check = Callable[[Trace], bool]

ANY = ".*"
START = "start_loc"
#: "any location except start_loc"
NOT_START = contain_words_and_exclude_words([], [START])


# ---------------------------------------------------------------------------------------------------------------
# shared building blocks
# ---------------------------------------------------------------------------------------------------------------
def all_of(*checks: Check) -> Check:
    """A check that passes when every check passes (evaluated in order, short-circuit)."""
    return lambda trace: all(check(trace) for check in checks)


def negate(check: Check) -> Check:
    """The negation of a check."""
    return lambda trace: not check(trace)


def any_of(*checks: Check) -> Check:
    """A check that passes when some check passes."""
    return lambda trace: any(check(trace) for check in checks)


def visits_all(trace: Trace, locations: list[str]) -> bool:
    """A ``GoTo`` matching each location occurs."""
    return all(trace.exists(GoTo(location)) for location in locations)


def visits_none(trace: Trace, locations: list[str]) -> bool:
    """No ``GoTo`` matches any of the locations."""
    return not any(trace.exists(GoTo(location)) for location in locations)


def back_at_start(trace: Trace, pattern: Pattern) -> bool:
    """After leaving start_loc, the first visit to start_loc contains ``pattern``."""
    return trace.after_first(GoTo(NOT_START)).act_at_first(START, pattern)


def asks_about(trace: Trace, location: str, topic: str) -> bool:
    """At the first visit of ``location``, an Ask whose question or one of whose options matches ``topic``."""
    return trace.act_at_first(location, Ask(topic, ANY)) or trace.act_at_first(location, Ask(ANY, topic))


def first_destination_is(trace: Trace, location: str) -> bool:
    """No GoTo to a location other than start_loc before the first GoTo to ``location``."""
    return not trace.before_first(GoTo(location)).exists(GoTo(NOT_START))


def office(person: str) -> str:
    """``"<person>'s office"``."""
    return f"{person}'s office"


# ---------------------------------------------------------------------------------------------------------------
# CountSavory
# ---------------------------------------------------------------------------------------------------------------
_SAVORY_OFFICES = [office(person) for person in ("alice", "bob", "charlie", "david")]


def _count_savory_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, _SAVORY_OFFICES)
        and visits_none(trace, ["lobby", "cafeteria"])
        and all(trace.act_at_first(room, CheckEntity(ANY)) for room in _SAVORY_OFFICES)
    )


def _count_savory_ask(person: str, food: str) -> Check:
    def check(trace: Trace) -> bool:
        room = office(person)
        checked_first = trace.after_first(GoTo(room)).before_first(Ask(food, ANY)).exists(CheckEntity(ANY))
        return asks_about(trace, room, food) and checked_first

    return check


def _count_savory_say(count: str) -> Check:
    def check(trace: Trace) -> bool:
        said = Say(contain_words([count]))
        return (
            trace.exists(said) and visits_all(trace.before_first(said), _SAVORY_OFFICES) and back_at_start(trace, said)
        )

    return check


def _ask_times(count: int) -> Check:
    return lambda trace: trace.count_matches(Ask(ANY, ANY)) == count


def _count_savory_test(asks: dict[str, str | None], count: str, ask_count: int) -> Check:
    per_person = [
        _count_savory_ask(person, food) if food is not None else negate(_count_savory_ask(person, ANY))
        for person, food in asks.items()
    ]
    return all_of(_count_savory_generic, *per_person, _count_savory_say(count), _ask_times(ask_count))


COUNT_SAVORY = [
    _count_savory_test({"alice": "donut", "bob": "cake", "charlie": "donut", "david": "cake"}, "0|.*zero|.*no", 4),
    _count_savory_test({"alice": "sandwich", "bob": "donut", "charlie": "cake", "david": "beef|.*jerky"}, "2|.*two", 4),
    _count_savory_test({"alice": "beef|.*jerky", "bob": "cake", "charlie": "cake", "david": None}, "1|.*one", 3),
    _count_savory_test(
        {"alice": None, "bob": "sandwich", "charlie": "beef|.*jerky", "david": "sandwich"}, "3|.*three", 3
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# ElevatorTour
# ---------------------------------------------------------------------------------------------------------------
def _elevator_generic(trace: Trace) -> bool:
    return (
        first_destination_is(trace, "elevator")
        and not trace.exists(GoTo("lobby"))
        and trace.act_at_first("elevator", CheckEntity(ANY))
    )


def _elevator_ask_tour(trace: Trace) -> bool:
    return trace.act_at_first("elevator", Ask("tour", ANY))


def _elevator_answer_yes(trace: Trace) -> bool:
    welcome = Say(contain_words(["welcome", "university"]))
    follow = Say(contain_words(["follow"]))
    tour_question = Ask("tour", ANY)
    elevator_stay = trace.after_first(GoTo("elevator")).before_first(
        GoTo(contain_words_and_exclude_words([], ["elevator"]))
    )
    before_conference = trace.before_first(GoTo("conference"))
    return (
        trace.act_at_first("elevator", welcome)
        and trace.act_at_first("elevator", follow)
        and elevator_stay.before_first(welcome).exists(tour_question)
        and elevator_stay.before_first(follow).exists(tour_question)
        and before_conference.exists(welcome)
        and before_conference.exists(follow)
        and not trace.after_first(GoTo("elevator"))
        .before_first(GoTo("conference"))
        .exists(GoTo(contain_words_and_exclude_words([], ["elevator"])))
        and trace.act_at_first("conference", Say("arr"))
    )


ELEVATOR_TOUR = [
    all_of(_elevator_generic, _elevator_ask_tour, _elevator_answer_yes),
    all_of(_elevator_generic, _elevator_ask_tour),
    all_of(_elevator_generic, negate(_elevator_ask_tour)),
]


# ---------------------------------------------------------------------------------------------------------------
# FindBackpack
# ---------------------------------------------------------------------------------------------------------------
def _backpack_generic(trace: Trace) -> bool:
    return (
        visits_none(trace, ["lobby", office("tom")])
        and (back_at_start(trace, Place("backpack")) or not trace.exists(Place("backpack")))
        and trace.exists(Pick("backpack"))
        and not trace.exists(Place("laptop"))
        and not trace.exists(Place("chair"))
    )


def _backpack_pick_at(room: str) -> Check:
    def check(trace: Trace) -> bool:
        return (
            trace.act_at_any(room, Pick("backpack"))
            and trace.count_matches(Pick(ANY)) == 1
            and trace.act_at_first(room, CheckEntity("backpack"))
        )

    return check


FIND_BACKPACK = [all_of(_backpack_generic, _backpack_pick_at(f"conference room {n}")) for n in (1, 2, 3)]


# ---------------------------------------------------------------------------------------------------------------
# GetDrink
# ---------------------------------------------------------------------------------------------------------------
def _drink_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, ["lobby", "kitchen"])
        and not trace.exists(GoTo("office"))
        and first_destination_is(trace, "lobby")
        and trace.precedes(GoTo("lobby"), GoTo("kitchen"))
        and trace.precedes(GoTo("kitchen"), GoTo("lobby"))
        and not trace.after_first(GoTo("lobby")).before_last(GoTo("lobby")).exists(GoTo(START))
    )


def _drink_test(drink: str) -> Check:
    return all_of(
        _drink_generic,
        lambda trace: asks_about(trace, "lobby", drink),
        lambda trace: trace.act_at_first("kitchen", Pick(drink)),
    )


GET_DRINK = [_drink_test(drink) for drink in ("water", "tea", "lemonade")]


# ---------------------------------------------------------------------------------------------------------------
# GrilledCheese
# ---------------------------------------------------------------------------------------------------------------
def _grilled_cheese(trace: Trace) -> bool:
    zarko = office("zarko")
    return (
        not trace.exists(GoTo("lobby"))
        and trace.exists(GoTo(zarko))
        and asks_about(trace, zarko, "cheese")
        and asks_about(trace, zarko, "bread")
        and trace.after_first(GoTo(zarko)).act_at_first(START, Say(ANY))
    )


GRILLED_CHEESE = [_grilled_cheese]


# ---------------------------------------------------------------------------------------------------------------
# HalloweenList
# ---------------------------------------------------------------------------------------------------------------
_HALLOWEEN_OFFICES = [office(person) for person in ("sally", "mark", "cindy")]


def _halloween_list_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, _HALLOWEEN_OFFICES)
        and not trace.exists(GoTo("kitchen"))
        and all(trace.act_at_first(room, CheckEntity(ANY)) for room in _HALLOWEEN_OFFICES)
    )


def _halloween_list_ask(person: str, candy: str) -> Check:
    return lambda trace: asks_about(trace, office(person), candy)


def _halloween_list_say(candy: str, number: str) -> Check:
    def check(trace: Trace) -> bool:
        said = Say(contain_words([candy, number]))
        # the original also meant to require mark's office here, but that check is overwritten in the source
        return (
            trace.exists(said)
            and visits_all(trace.before_first(said), [office("sally"), office("cindy")])
            and back_at_start(trace, said)
        )

    return check


HALLOWEEN_LIST = [
    all_of(
        _halloween_list_generic,
        _halloween_list_ask("sally", "gumm"),
        _halloween_list_ask("mark", "caramel"),
        _halloween_list_ask("cindy", "choco"),
        _halloween_list_say("choco", "1|.*one"),
        _halloween_list_say("gumm", "1|.*one"),
        _halloween_list_say("caramel", "1|.*one"),
    ),
    all_of(
        _halloween_list_generic,
        _halloween_list_ask("sally", "caramel"),
        _halloween_list_ask("mark", "gumm"),
        _halloween_list_ask("cindy", "caramel"),
        _halloween_list_say("gumm", "1|.*one"),
        _halloween_list_say("caramel", "2|.*two"),
    ),
    all_of(
        _halloween_list_generic,
        _halloween_list_ask("sally", "choco"),
        _halloween_list_ask("mark", "choco"),
        negate(_halloween_list_ask("cindy", ANY)),
        _halloween_list_say("choco", "2|.*two"),
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# HalloweenShopping (the source's ask-per-candy helper is unused by every test)
# ---------------------------------------------------------------------------------------------------------------
def _halloween_shopping_generic(trace: Trace) -> bool:
    return visits_all(trace, [office(p) for p in ("gavin", "sunny", "frank")]) and visits_none(
        trace, ["lobby", "robotics"]
    )


def _halloween_shopping_test(number: str) -> Check:
    says = [
        (lambda trace, candy=candy: back_at_start(trace, Say(contain_words([number, candy]))))
        for candy in ("choco", "caramel", "gumm")
    ]
    return all_of(_halloween_shopping_generic, *says)


HALLOWEEN_SHOPPING = [_halloween_shopping_test(number) for number in ("12", "6", "4", "0|.*zero|.*no", "0|.*zero|.*no")]


# ---------------------------------------------------------------------------------------------------------------
# LunchBreak
# ---------------------------------------------------------------------------------------------------------------
def _lunch_break_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, [office("alice"), office("bob")])
        and not trace.exists(GoTo(office("charlie")))
        and trace.act_at_first(office("alice"), Ask("lunch", ANY))
        and trace.act_at_first(office("bob"), Ask("lunch", ANY))
    )


def _lunch_break_meet(person: str) -> Check:
    def check(trace: Trace) -> bool:
        room = office(person)
        meet_say = Say(contain_words(["(?:5|five)", "lobby"]))
        stay = trace.after_first(GoTo(room)).before_first(GoTo(contain_words_and_exclude_words([], [room])))
        return trace.act_at_first(room, meet_say) and stay.before_first(meet_say).exists(Ask("lunch", ANY))

    return check


def _lunch_break_report(person: str) -> Check:
    def check(trace: Trace) -> bool:
        said = Say(contain_words_and_exclude_words([person], ["no", "not"]))
        return (
            trace.exists(said)
            and visits_all(trace.before_first(said), [office("alice"), office("bob")])
            and back_at_start(trace, said)
        )

    return check


def _lunch_break_test(alice_yes: bool, bob_yes: bool) -> Check:
    checks: list[Check] = [_lunch_break_generic]
    for person, yes in (("alice", alice_yes), ("bob", bob_yes)):
        checks.append(_lunch_break_meet(person) if yes else negate(_lunch_break_meet(person)))
    for person, yes in (("alice", alice_yes), ("bob", bob_yes)):
        checks.append(_lunch_break_report(person) if yes else negate(_lunch_break_report(person)))
    return all_of(*checks)


LUNCH_BREAK = [_lunch_break_test(True, True), _lunch_break_test(False, False), _lunch_break_test(True, False),
               _lunch_break_test(False, True)]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# LunchTime
# ---------------------------------------------------------------------------------------------------------------
_JILL = office("jill")
_LUNCH_QUESTION = Ask("lunch", ANY)
_GOOD_TIMES = "11|eleven|12|twelve"
# substring matches, so "14:", "15:" and "16:" are rejected too (they contain "4:", "5:", "6:")
_BAD_TIMES = "|".join([f"{hour}:" for hour in range(17, 25)] + [f"{hour}:" for hour in range(4, 9)])


def _lunch_time_generic(trace: Trace) -> bool:
    return (
        trace.exists(GoTo(_JILL))
        and not trace.exists(GoTo(office("andrew")))
        and trace.act_at_first(_JILL, _LUNCH_QUESTION)
    )


def _lunch_time_ask_time(trace: Trace) -> bool:
    time_question = Ask(_GOOD_TIMES, ANY)
    time_option = Ask(ANY, _GOOD_TIMES)
    before_lunch = trace.before_first(_LUNCH_QUESTION)
    return (
        asks_about(trace, _JILL, _GOOD_TIMES)
        and not asks_about(trace, _JILL, _BAD_TIMES)
        and not before_lunch.exists(time_question)
        and not before_lunch.exists(time_option)
    )


def _lunch_time_only_lunch_ask(trace: Trace) -> bool:
    return not trace.after_first(_LUNCH_QUESTION).exists(Ask(ANY, ANY)) and not trace.before_first(
        _LUNCH_QUESTION
    ).exists(Ask(ANY, ANY))


def _lunch_time_report(trace: Trace) -> bool:
    return trace.before_first(Say(ANY)).exists(GoTo(_JILL)) and back_at_start(trace, Say(ANY))


LUNCH_TIME = [
    all_of(_lunch_time_generic, _lunch_time_ask_time, _lunch_time_report),
    all_of(_lunch_time_generic, _lunch_time_only_lunch_ask, _lunch_time_report),
]


# ---------------------------------------------------------------------------------------------------------------
# MailDelivery
# ---------------------------------------------------------------------------------------------------------------
_MAIL_OFFICES = [office(person) for person in ("alice", "bob", "charlie")]
_MAIL_ROOM = "mail room"


def _mail_generic(trace: Trace) -> bool:
    between_mail_room_visits = trace.after_first(GoTo(_MAIL_ROOM)).before_first(GoTo(_MAIL_ROOM))
    return (
        visits_all(trace, [*_MAIL_OFFICES, _MAIL_ROOM])
        and visits_none(trace, ["lobby", "conference room"])
        and all(trace.act_at_first(room, Ask("mail", ANY)) for room in _MAIL_OFFICES)
        and trace.act_at_first(_MAIL_ROOM, Pick("bin"))
        and first_destination_is(trace, _MAIL_ROOM)
        and trace.after_first(GoTo(_MAIL_ROOM)).act_at_first(_MAIL_ROOM, Place("bin"))
        and visits_all(between_mail_room_visits, _MAIL_OFFICES)
    )


def _mail_report(person: str) -> Check:
    return lambda trace: trace.after_first(GoTo(_MAIL_ROOM)).act_at_first(_MAIL_ROOM, Say(person))


def _mail_test(has_mail: dict[str, bool]) -> Check:
    reports = [_mail_report(p) if yes else negate(_mail_report(p)) for p, yes in has_mail.items()]
    return all_of(_mail_generic, *reports)


MAIL_DELIVERY = [
    _mail_test({"alice": True, "bob": True, "charlie": True}),
    _mail_test({"alice": False, "bob": True, "charlie": True}),
    _mail_test({"alice": True, "bob": False, "charlie": False}),
    _mail_test({"alice": False, "bob": False, "charlie": False}),
]


# ---------------------------------------------------------------------------------------------------------------
# MovieMessenger
# ---------------------------------------------------------------------------------------------------------------
_SALLY = office("sally")
_MARK = office("mark")


def _movie_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, [_SALLY, _MARK])
        and not trace.before_first(GoTo(_SALLY)).exists(GoTo(_MARK))
        and not trace.after_first(GoTo(_SALLY)).before_first(GoTo(_MARK)).exists(GoTo(START))
        and trace.act_at_first(_SALLY, Ask(contain_words(["(?:cinema|film|movie)", "mark"]), ANY))
    )


def _movie_tell_mark(trace: Trace) -> bool:
    return trace.act_at_first(_MARK, Say(ANY)) and not trace.after_first(GoTo(_MARK)).before_first(Say(ANY)).exists(
        Ask(ANY, ANY)
    )


def _movie_yes(time_words: list[str]) -> Check:
    def check(trace: Trace) -> bool:
        time = contain_words(time_words)
        after_mark = trace.after_first(GoTo(_MARK))
        return (
            asks_about(trace, _MARK, time)
            and after_mark.exists(GoTo(_SALLY))
            and not after_mark.before_first(GoTo(_SALLY)).exists(GoTo(START))
            and after_mark.act_at_first(_SALLY, Say(time))
        )

    return check


def _movie_no(trace: Trace) -> bool:
    return not trace.after_first(GoTo(_MARK)).after_first(Say("no")).exists(Ask(ANY, ANY))


MOVIE_MESSENGER = [
    all_of(_movie_generic, _movie_tell_mark, _movie_yes(["6", "pm"])),
    all_of(_movie_generic, _movie_tell_mark, _movie_yes(["5", "pm"])),
    all_of(_movie_generic, _movie_tell_mark, _movie_no),
]


# ---------------------------------------------------------------------------------------------------------------
# SayGoodDay
# ---------------------------------------------------------------------------------------------------------------
def _lab(person: str) -> str:
    return f"{person}'s lab"


def _good_day_generic(trace: Trace) -> bool:
    labs = [_lab("sam"), _lab("amy")]
    return (
        visits_all(trace, labs)
        and visits_none(trace, ["lobby", "conference"])
        and all(trace.act_at_first(lab, CheckEntity(ANY)) for lab in labs)
    )


def _good_day_greet(person: str) -> Check:
    def check(trace: Trace) -> bool:
        greeting = Say(contain_words(["good", "day"]))
        lab = _lab(person)
        return trace.act_at_first(lab, greeting) and trace.after_first(GoTo(lab)).before_first(greeting).exists(
            CheckEntity(ANY)
        )

    return check


def _good_day_no_greet(person: str) -> Check:
    lab = _lab(person)
    return lambda trace: not trace.act_at_first(lab, Say("good")) and not trace.act_at_first(lab, Say("day"))


SAY_GOOD_DAY = [
    all_of(_good_day_generic, _good_day_greet("sam"), _good_day_greet("amy")),
    all_of(_good_day_generic, _good_day_greet("sam"), _good_day_no_greet("amy")),
    all_of(_good_day_generic, _good_day_no_greet("sam"), _good_day_greet("amy")),
    all_of(_good_day_generic, _good_day_no_greet("sam"), _good_day_no_greet("amy")),
]


# ---------------------------------------------------------------------------------------------------------------
# SetTemperature (number ranges as in the source: 73-89 for warmer, 50-71 for colder)
# ---------------------------------------------------------------------------------------------------------------
_ARJUN = office("arjun")
_TEMPERATURES = {"wa": r"\b(?:[8][0-9]|7[3-9])\b", "co": r"\b(?:[5-6][0-9]|7[01])\b"}


def _temperature_generic(trace: Trace) -> bool:
    return trace.exists(GoTo(_ARJUN)) and not trace.exists(GoTo(office("joydeep")))


def _temperature_test(status: str) -> Check:
    return all_of(
        _temperature_generic,
        lambda trace: asks_about(trace, _ARJUN, status),
        lambda trace: trace.precedes(GoTo(_ARJUN), GoTo(START)) and back_at_start(trace, Say(_TEMPERATURES[status])),
    )


SET_TEMPERATURE = [_temperature_test("wa"), _temperature_test("co")]


# ---------------------------------------------------------------------------------------------------------------
# StaplerDelivery / StaplerSupply
# ---------------------------------------------------------------------------------------------------------------
_PRINTER_ROOMS = [f"printer room {n}" for n in (1, 2, 3)]
_STAPLER = "stapler"


def _stapler_generic(trace: Trace) -> bool:
    return (
        visits_all(trace, _PRINTER_ROOMS)
        and not trace.exists(GoTo("meeting room"))
        and all(trace.act_at_first(room, CheckEntity(_STAPLER)) for room in _PRINTER_ROOMS)
    )


def _stapler_deliver(rooms: list[int]) -> Check:
    def check(trace: Trace) -> bool:
        if trace.count_matches(Pick(_STAPLER)) != len(rooms):
            return False
        rest = trace
        for _ in rooms:
            if not rest.act_at_first("supply room", Pick(_STAPLER)):
                return False
            rest = rest.after_first(Pick(_STAPLER))
        placed = all(trace.act_at_any(f"printer room {n}", Place(_STAPLER)) for n in rooms)
        # "printer room" as the location: the stay spans the first run of consecutive printer-room visits
        return placed and not trace.act_at_first("printer room", Pick(_STAPLER))

    return check


STAPLER_DELIVERY = [all_of(_stapler_generic, _stapler_deliver(rooms)) for rooms in ([2, 3], [1], [1, 2, 3])]


def _stapler_report_missing(number: int) -> Check:
    def check(trace: Trace) -> bool:
        said = Say(contain_words([str(number), "(?:not|no|don't|doesn't|without)"]))
        return (
            trace.exists(said) and visits_all(trace.before_first(said), _PRINTER_ROOMS) and back_at_start(trace, said)
        )

    return check


def _stapler_supply_test(missing: set[int]) -> Check:
    reports = [_stapler_report_missing(n) if n in missing else negate(_stapler_report_missing(n)) for n in (1, 2, 3)]
    return all_of(_stapler_generic, *reports)


STAPLER_SUPPLY = [_stapler_supply_test({2, 3}), _stapler_supply_test({1}), _stapler_supply_test({1, 2, 3})]


# ---------------------------------------------------------------------------------------------------------------
# WeatherPoll
# ---------------------------------------------------------------------------------------------------------------
_ENTRANCE = "entrance"


def _checked_before_ask(trace: Trace) -> bool:
    """A CheckEntity precedes the first Ask, with no leaving / Say / Pick / Place after the last such check."""
    before_ask = trace.before_first(Ask(ANY, ANY))
    since_check = before_ask.after_last(CheckEntity(ANY))
    disallowed = [GoTo(contain_words_and_exclude_words([], [_ENTRANCE])), Say(ANY), Pick(ANY), Place(ANY)]
    return before_ask.exists(CheckEntity(ANY)) and not any(since_check.exists(p) for p in disallowed)


def _weather_generic(trace: Trace) -> bool:
    after_entrance = trace.after_first(GoTo(_ENTRANCE))
    # the source's per-Ask loop restarts from the original trace, so only the first two Asks are checked
    return (
        trace.exists(GoTo(_ENTRANCE))
        and not trace.exists(GoTo("conference"))
        and after_entrance.count_matches(CheckEntity(ANY)) >= 10
        and after_entrance.count_matches(Ask(ANY, ANY)) == 10
        and _checked_before_ask(trace)
        and _checked_before_ask(trace.after_first(Ask(ANY, ANY)))
    )


def _weather_report(percentage: str) -> Check:
    return lambda trace: back_at_start(trace, Say(contain_words([percentage])))


def _weather_nobody_shows_up(trace: Trace) -> bool:
    return (
        trace.exists(GoTo(_ENTRANCE))
        and not trace.exists(GoTo("conference"))
        and trace.exists(CheckEntity(ANY))
        and not trace.exists(Ask(ANY, ANY))
        and not trace.exists(Say(ANY))
    )


WEATHER_POLL = [
    all_of(_weather_generic, any_of(_weather_report("100|.*hundred|.*all"), _weather_report(" 10"))),
    all_of(_weather_generic, _weather_report("0|.*zero|.*no")),
    all_of(_weather_generic, any_of(_weather_report("60|.*sixty|.*6"), _weather_report(" 6"))),
    all_of(_weather_generic, any_of(_weather_report(r"40|.*forty|.*fourty|\b4\b"), _weather_report(" 4"))),
    _weather_nobody_shows_up,
]


#: per task, one check per test, in the test order of ``tasks.json``
TASK_CHECKS: dict[str, list[Check]] = {
    "CountSavory": COUNT_SAVORY,
    "ElevatorTour": ELEVATOR_TOUR,
    "FindBackpack": FIND_BACKPACK,
    "GetDrink": GET_DRINK,
    "GrilledCheese": GRILLED_CHEESE,
    "HalloweenList": HALLOWEEN_LIST,
    "HalloweenShopping": HALLOWEEN_SHOPPING,
    "LunchBreak": LUNCH_BREAK,
    "LunchTime": LUNCH_TIME,
    "MailDelivery": MAIL_DELIVERY,
    "MovieMessenger": MOVIE_MESSENGER,
    "SayGoodDay": SAY_GOOD_DAY,
    "SetTemperature": SET_TEMPERATURE,
    "StaplerDelivery": STAPLER_DELIVERY,
    "StaplerSupply": STAPLER_SUPPLY,
    "WeatherPoll": WEATHER_POLL,
}


# ---------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------
def tasks_file(data_dir: Path | str) -> Path:
    """``<data_dir>/roboeval/tasks.json``; raises ``FileNotFoundError`` with a clear message when absent."""
    path = Path(data_dir) / "roboeval" / "tasks.json"
    if not path.is_file():
        raise FileNotFoundError(f"RoboEval data not found: {path} (set data_dir to the shared data directory)")
    return path


def load_tasks(data_dir: Path | str) -> dict[str, RoboEvalTask]:
    """The 16 tasks by name, pairing ``tasks.json``'s states and timeout flags with the checks coded here.

    Raises ``FileNotFoundError`` when the data is absent and ``ValueError`` when the data and the coded checks
    disagree (unknown task, different number of tests, bad state index).
    """
    return _load_tasks_cached(str(tasks_file(data_dir).resolve()))


@cache
def _load_tasks_cached(path: str) -> dict[str, RoboEvalTask]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    tasks: dict[str, RoboEvalTask] = {}
    for entry in data["tasks"]:
        name = entry["name"]
        checks = TASK_CHECKS.get(name)
        if checks is None:
            raise ValueError(f"{path}: task {name!r} has no coded checks")
        if len(checks) != len(entry["tests"]):
            raise ValueError(f"{path}: task {name!r} has {len(entry['tests'])} tests but {len(checks)} coded checks")
        tests = []
        for test, check in zip(entry["tests"], checks, strict=True):
            index = test["state_index"]
            if not 0 <= index < len(entry["states"]):
                raise ValueError(f"{path}: task {name!r} refers to missing state {index}")
            tests.append(RoboEvalTest(entry["states"][index], bool(test["expect_timeout"]), check))
        tasks[name] = RoboEvalTask(name, list(entry["prompts"]), tests)
    missing = set(TASK_CHECKS) - set(tasks)
    if missing:
        raise ValueError(f"{path}: tasks missing from the data: {sorted(missing)}")
    return tasks


def evaluate_program(
    task_name: str,
    code: str,
    data_dir: str,
    state_timeout_s: float = DEFAULT_STATE_TIMEOUT_S,
    sleep: Literal["zero", "codebotler"] = "zero",
    runner=None,
) -> dict[str, Any]:
    """Evaluate one program on one RoboEval task (by name, e.g. ``"CountSavory"``), states run by ``runner``.

    Args:
        task_name: A task name of ``tasks.json`` (a ``<Task>_<variant>`` id is accepted too).
        code: The program text, a ``def task_program():`` function.
        data_dir: The shared data directory holding ``roboeval/tasks.json``.
        state_timeout_s: Wall-clock limit per state run (the original: 1 s).
        sleep: ``"zero"`` (Robo-Instruct: every ``time.sleep`` is a no-op) or ``"codebotler"``.
        runner: See `lit_coderl.robot.roboeval.evaluate_task_program`.

    Raises ``FileNotFoundError`` when the data is absent and ``KeyError`` for an unknown task; a bad program
    never raises (it gets an outcome).
    """
    tasks = load_tasks(Path(data_dir))
    name = task_name if task_name in tasks else task_name.rsplit("_", 1)[0]
    if name not in tasks:
        raise KeyError(f"unknown RoboEval task {task_name!r}; known: {sorted(tasks)}")
    return evaluate_task_program(tasks[name], code, state_timeout_s=state_timeout_s, sleep=sleep, runner=runner)
