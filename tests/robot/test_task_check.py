"""The task checker on hand-written call logs: exact satisfied sets, world scores and blamed lines."""

from lit_coderl.robot.task_check import check_world, count_words, has_any, has_phrase, replay, words_of, world_score


def call(api, *args, result=None, line=None, error=None):
    return {"api": api, "args": list(args), "result": result, "error": error, "line": line}


FETCH = {
    "facts": [{"id": "here", "at": "kitchen", "entity": "apple", "p": 0.5}],
    "constraints": [
        {"do": "visit", "what": "kitchen"},
        {"do": "pick", "what": "apple", "at": "kitchen", "when": {"fact": "here", "is": True}},
        {"do": "place", "what": "apple", "at": "start", "after": 1, "when": {"fact": "here", "is": True}},
        {"do": "say", "at": "start", "words": ["no|not|none"], "when": {"fact": "here", "is": False}},
    ],
}


def summary(results):
    return [(r["applicable"], r["satisfied"], r["blame"]) for r in results]


def test_text_helpers():
    assert words_of("Go to the Loc_A, now!") == "go to the loc a now"
    assert has_phrase("There is no apple.", "no") and not has_phrase("I know", "no")
    assert has_phrase("Alice's office", "alice's office") and not has_phrase("the kitchen", "")
    assert has_any("none here", "no|none") and not has_any("nothing", "no|none")
    assert count_words(3) == "3|three" and count_words(0) == "0|zero|no|none" and count_words(12) == "12|12"


def test_replay_places_events_and_drops_failed_calls():
    events = replay([call("say", "a"), call("go_to", " Kitchen "), call("pick", "x", error="Exception: boom"),
                     call("pick", "cup")])
    assert [(e["api"], e["at"]) for e in events] == [("say", "start_loc"), ("go_to", "kitchen"), ("pick", "kitchen")]


def test_a_correct_fetch_satisfies_everything():
    calls = [call("go_to", "kitchen", line=3), call("is_in_room", "apple", result=True, line=4),
             call("pick", "apple", line=5), call("go_to", "start_loc", line=6), call("place", "apple", line=7)]
    results = check_world(FETCH, {"here": True}, calls, stop_line=7)
    assert summary(results) == [(True, True, []), (True, True, []), (True, True, []), (False, None, [])]
    assert [r["event"] for r in results] == [0, 2, 4, None]
    assert world_score(results) == 1.0


def test_a_trivial_program_is_blamed_where_it_stopped():
    calls = [call("go_to", "kitchen", line=2), call("say", "done", line=3)]
    results = check_world(FETCH, {"here": True}, calls, stop_line=3)
    assert summary(results) == [(True, True, []), (True, False, [3]), (True, False, [3]), (False, None, [])]
    assert world_score(results) == 1 / 3


def test_near_misses_take_the_blame():
    said_away = [call("go_to", "kitchen", line=2), call("is_in_room", "apple", result=False, line=3),
                 call("say", "There is no apple", line=5)]
    results = check_world(FETCH, {"here": False}, said_away, stop_line=5)
    assert summary(results) == [(True, True, []), (False, None, []), (False, None, []), (True, False, [5])]
    assert world_score(results) == 0.5
    wrong_room = [call("go_to", "kitchen", line=2), call("pick", "apple", line=3), call("go_to", "garage", line=4),
                  call("place", "apple", line=5)]
    results = check_world(FETCH, {"here": True}, wrong_room, stop_line=5)
    assert summary(results)[2] == (True, False, [5])
    assert world_score(results) == 2 / 3


def test_an_error_stops_the_program_and_its_line_is_blamed():
    calls = [call("go_to", "kitchen", line=2), call("pick", "pear", line=3, error="Exception: RobotPickError: x")]
    results = check_world(FETCH, {"here": True}, calls, stop_line=3)
    assert summary(results)[1:3] == [(True, False, [3]), (True, False, [3])]


ASK = {
    "constraints": [
        {"do": "ask", "what": "Bob", "at": "Bob's office", "options": ["Yes", "No"]},
        {"do": "say", "at": "start", "answer_of": 0, "after": 0},
        {"do": "pick", "what": "mug", "when": {"answer_of": 0, "is": "yes"}},
        {"do": "pick", "what": "mug", "never": True, "when": {"answer_of": 0, "is": "no"}},
    ],
}


def test_answers_decide_what_applies_and_never_blames_the_offending_line():
    calls = [call("go_to", "bob's office", line=2), call("ask", "bob", "want it?", ["yes", "no"], result="no", line=3),
             call("pick", "mug", line=4), call("go_to", "start_loc", line=5), call("say", "Bob said: no", line=6)]
    results = check_world(ASK, {}, calls, stop_line=6)
    assert summary(results) == [(True, True, []), (True, True, []), (False, None, []), (True, False, [4])]
    assert world_score(results) == 2 / 3
    yes = [dict(c, result="yes") if c["api"] == "ask" else c for c in calls[:4]] + [call("say", "yes", line=6)]
    assert summary(check_world(ASK, {}, yes, stop_line=6)) == [
        (True, True, []), (True, True, []), (True, True, []), (False, None, []),
    ]


def test_an_unasked_premise_is_violated():
    calls = [call("go_to", "start_loc", line=2), call("say", "hi", line=3)]
    results = check_world(ASK, {}, calls, stop_line=3)
    assert summary(results) == [(True, False, [3]), (True, False, [3]), (True, False, [3]), (True, False, [3])]
    assert world_score(results) == 0.0
    wrong_options = [call("go_to", "bob's office", line=2), call("ask", "Bob", "q", ["maybe"], result="maybe", line=3)]
    assert summary(check_world(ASK, {}, wrong_options, stop_line=3))[0] == (True, False, [3])


SURVEY = {
    "constraints": [
        {"do": "visit", "what": "loc_a"},
        {"do": "visit", "what": "loc_b"},
        {"do": "say", "at": "start", "count": "found"},
        {"do": "say", "at": "start", "mentions": "found"},
        {"do": "say", "at_true": "found", "text": "hello", "when": {"any": "found", "is": True}},
        {"do": "say", "text": "hello", "never": True, "when": {"any": "found", "is": False}},
    ],
}
FOUND = {"found:loc_a": True, "found:loc_b": False, "found:start_loc": True}


def test_counts_mentions_and_places_where_a_fact_holds():
    calls = [call("go_to", "loc_a", line=3), call("say", "Hello!", line=4), call("go_to", "loc_b", line=3),
             call("go_to", "start_loc", line=5), call("say", "I found 2: loc_a, start_loc", line=6)]
    results = check_world(SURVEY, FOUND, calls, stop_line=6)
    assert [r["satisfied"] for r in results] == [True, True, True, True, True, None]
    wrong = calls[:4] + [call("say", "loc_a, loc_b", line=6)]
    results = check_world(SURVEY, FOUND, wrong, stop_line=6)
    assert summary(results) == [
        (True, True, []), (True, True, []), (True, False, [4, 6]), (True, False, [4, 6]), (True, True, []),
        (False, None, []),
    ]
    assert world_score(results) == 3 / 5
    nobody = {key: False for key in FOUND}
    results = check_world(SURVEY, nobody, calls, stop_line=6)
    assert summary(results)[2:] == [(True, False, [4, 6]), (True, False, [4, 6]), (False, None, []), (True, False, [4])]


def test_a_count_claim_holds_only_when_it_states_exactly_the_right_number():
    spec = {"constraints": [{"do": "say", "count": "found"}]}
    facts = {"found:loc_a": True, "found:loc_b": True, "found:loc_c": False}  # the right count is 2

    def satisfied(text, world=facts):
        return check_world(spec, world, [call("say", text, line=2)], stop_line=2)[0]["satisfied"]

    assert satisfied("I found 2 rooms") and satisfied("Two rooms have it.")
    assert not satisfied("0 1 2 3 4 5 6 7 8 9 10 zero one two three four five six seven eight nine ten no none")
    assert not satisfied("Either 2 or 3 rooms") and not satisfied("I found 3 rooms") and not satisfied("many")
    empty = {key: False for key in facts}
    assert satisfied("I found no rooms", empty) and satisfied("0 rooms", empty)
    assert not satisfied("no rooms, or 1, or 2", empty) and not satisfied("I found 2 rooms", empty)
    asked = {"constraints": [{"do": "say", "count_yes": True}]}
    yes = [call("ask", "A", "q", ["yes", "no"], result="yes"), call("ask", "B", "q", ["yes", "no"], result="yes")]
    assert check_world(asked, {}, [*yes, call("say", "2 people said yes")], None)[0]["satisfied"]
    assert not check_world(asked, {}, [*yes, call("say", "1 2 3 people said yes")], None)[0]["satisfied"]
