"""A procedural generator of robot tasks: instructions paired with short reference programs RoboSim accepts.

Our own training data for the robot domain (RoboEval and Robo-Instruct material is evaluation-only by licence).
Each *pattern* is a control structure (say somewhere, ask and report, fetch and deliver, check every room, count and
report, wait for someone, ask and branch, ...) with several phrasings of its instruction and small variations of
its program (variable names, messages), filled with rooms, objects, people, questions and option sets. Every
reference program is written so that it runs without error in every RoboSim world (picks precede places on every
path, asks only where the person cannot be known absent, no name is used as two entity types).

`generate_tasks(n, seed)` returns ``n`` rows with distinct instructions, decontaminated against the 80 RoboEval
prompts (token-level Levenshtein similarity above 0.6 is dropped, as Robo-Instruct does) when the RoboEval data
is present.
"""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lit_coderl.robot.prompts import PromptStyle, assistant_answer, chat_messages

DEFAULT_DATA_DIR = "auto"
"""Where the RoboEval prompts for decontamination are looked for: ``"auto"`` is the benchmark data resolution
(`lit_coderl.data.benchmarks`: ``LIT_CODERL_DATA_DIR``, then the user cache; never a download at training time)."""
SIMILARITY_THRESHOLD = 0.6

ROOMS = (
    "kitchen", "living room", "break room", "lobby", "library", "garage", "laundry room", "mail room",
    "storage room", "supply closet", "game room", "lounge", "gym", "music room", "art studio", "meeting room",
    "server room", "copy room", "reception", "patio", "cafeteria", "workshop", "study", "guest room",
    "dining room", "bathroom", "nursery", "pantry", "attic", "basement",
)
PEOPLE = (
    "Alice", "Bob", "Carmen", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Liam",
    "Mei", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yara", "Zane",
)
PLACES_OF = ("office", "desk", "room", "study", "lab")
OBJECTS = (
    "apple", "banana", "book", "laptop", "charger", "umbrella", "water bottle", "notebook", "pen", "mug",
    "blanket", "towel", "flashlight", "remote control", "key", "phone", "marker", "plant", "lamp", "box",
    "ball", "toolbox", "camera", "tape", "folder", "sandwich", "coffee cup", "pillow", "hat", "jacket",
    "calculator", "scarf", "wallet", "magazine", "candle", "puzzle", "ruler", "vase", "teapot", "tray",
)
ROOM_KINDS = ("office", "bedroom", "lab", "classroom", "kitchen", "bathroom", "lounge")
YES_NO_QUESTIONS = (
    ("they are coming to lunch", "Are you coming to lunch?"),
    ("they need any help", "Do you need any help?"),
    ("the projector is working", "Is the projector working?"),
    ("they finished the report", "Did you finish the report?"),
    ("they can join the meeting at 3", "Can you join the meeting at 3?"),
    ("they want a coffee", "Do you want a coffee?"),
    ("they are ready to leave", "Are you ready to leave?"),
    ("they have seen the new poster", "Have you seen the new poster?"),
    ("they are free this afternoon", "Are you free this afternoon?"),
    ("the heating is too strong", "Is the heating too strong?"),
    ("they would like the window open", "Would you like the window open?"),
    ("they have a spare charger", "Do you have a spare charger?"),
    ("they are going to the party", "Are you going to the party?"),
    ("they watered the plants", "Did you water the plants?"),
)
CHOICES = (
    ("drink", ("tea", "coffee", "juice")),
    ("snack", ("chips", "cookies", "fruit")),
    ("color", ("red", "blue", "green")),
    ("day", ("Monday", "Wednesday", "Friday")),
    ("time", ("9 am", "noon", "4 pm")),
    ("movie", ("comedy", "drama", "cartoon")),
    ("sport", ("tennis", "soccer", "chess")),
    ("dessert", ("cake", "ice cream", "pie")),
    ("music", ("jazz", "rock", "classical")),
    ("seat", ("window", "aisle", "middle")),
    ("lunch", ("pizza", "salad", "soup")),
    ("fruit", ("apple", "pear", "grape")),
)
MESSAGES = (
    "Good morning!", "Lunch is ready", "The meeting starts in ten minutes", "Please keep the door closed",
    "Happy birthday!", "The package has arrived", "Time for a break", "Dinner is served", "Welcome!",
    "The fire drill is at noon", "Please tidy up", "The printer is fixed", "See you tomorrow", "Hello everyone",
    "Quiet please", "The bus is here", "Do not forget the team photo", "The coffee machine is empty",
)
EVENTS = (
    "the team meeting", "the dentist appointment", "the yoga class", "the book club", "the deadline on Friday",
    "the fire drill", "the pizza party", "the safety training", "the code review", "the visitor at noon",
)


# ---- vocabulary helpers -------------------------------------------------------------------------------------------


def _person_place(rng: random.Random, person: str) -> str:
    return f"{person}'s {rng.choice(PLACES_OF)}"


def _two_rooms(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(ROOMS, 2)
    return first, second


def _start_var(rng: random.Random) -> str:
    return rng.choice(("start_loc", "start", "home", "origin"))


def _answer_var(rng: random.Random) -> str:
    return rng.choice(("response", "answer", "reply"))


def _q(text: str) -> str:
    """A double-quoted Python literal of ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _program(lines: list[str]) -> str:
    return "def task_program():\n" + "\n".join("    " + line for line in lines)


def _a(noun: str) -> str:
    """The noun with its indefinite article."""
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _list_text(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]


Pattern = Callable[[random.Random], tuple[str, str]]


# ---- patterns: each returns (instruction, program) ---------------------------------------------------------------


def say_in_room(rng: random.Random) -> tuple[str, str]:
    room, message = rng.choice(ROOMS), rng.choice(MESSAGES)
    instruction = rng.choice((
        f'Go to the {room} and say "{message}".',
        f'Head to the {room} and announce: "{message}"',
        f'Say "{message}" in the {room}.',
        f'Please go to the {room} and tell everyone "{message}".',
    ))
    return instruction, _program([f"go_to({_q(room)})", f"say({_q(message)})"])


def say_and_return(rng: random.Random) -> tuple[str, str]:
    room, message, start = rng.choice(ROOMS), rng.choice(MESSAGES), _start_var(rng)
    instruction = rng.choice((
        f'Go to the {room}, say "{message}", then come back and tell me it is done.',
        f'Announce "{message}" in the {room} and then return to me and confirm.',
        f'Visit the {room} to say "{message}". Come back and let me know when you are done.',
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        f"say({_q(message)})",
        f"go_to({start})",
        'say("Done")',
    ])


def ask_and_report(rng: random.Random) -> tuple[str, str]:
    person = rng.choice(PEOPLE)
    place = _person_place(rng, person)
    clause, question = rng.choice(YES_NO_QUESTIONS)
    start, var = _start_var(rng), _answer_var(rng)
    instruction = rng.choice((
        f"Go to {place}, ask {person} if {clause}, and come back and tell me the answer.",
        f"Ask {person} in {place} whether {clause}. Report back what {person} said.",
        f"Find out from {person} in {place} if {clause}, then come back and tell me.",
        f"Visit {place} and ask {person} if {clause}. Return and tell me the reply.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(place)})",
        f'{var} = ask({_q(person)}, {_q(question)}, ["Yes", "No"])',
        f"go_to({start})",
        f"say({_q(person + ' said: ')} + {var})",
    ])


def ask_choice(rng: random.Random) -> tuple[str, str]:
    person, room = rng.choice(PEOPLE), rng.choice(ROOMS)
    category, options = rng.choice(CHOICES)
    options = tuple(rng.sample(options, len(options)))
    start, var = _start_var(rng), rng.choice(("choice", "pick_" + category.replace(" ", "_"), "preference"))
    instruction = rng.choice((
        f"Ask {person} in the {room} which {category} they prefer: {_list_text(options)}. Tell me what they chose.",
        f"Go to the {room} and ask {person} to choose {_a(category)} among {_list_text(options)}, then report back.",
        f"Find out whether {person}, who is in the {room}, wants {_list_text(options)} and let me know.",
    ))
    option_list = "[" + ", ".join(_q(o) for o in options) + "]"
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        f"{var} = ask({_q(person)}, {_q(f'Which {category} do you prefer?')}, {option_list})",
        f"go_to({start})",
        f"say({_q(person + ' chose ')} + {var})",
    ])


def fetch_and_deliver(rng: random.Random) -> tuple[str, str]:
    obj = rng.choice(OBJECTS)
    source, target = _two_rooms(rng)
    instruction = rng.choice((
        f"Bring the {obj} from the {source} to the {target}.",
        f"Take the {obj} in the {source} and put it in the {target}.",
        f"Go to the {source}, pick up the {obj}, and place it in the {target}.",
        f"Move the {obj} from the {source} to the {target}.",
    ))
    return instruction, _program([
        f"go_to({_q(source)})", f"pick({_q(obj)})", f"go_to({_q(target)})", f"place({_q(obj)})",
    ])


def fetch_to_me(rng: random.Random) -> tuple[str, str]:
    obj, room, start = rng.choice(OBJECTS), rng.choice(ROOMS), _start_var(rng)
    instruction = rng.choice((
        f"Get the {obj} from the {room} and bring it to me.",
        f"Fetch me the {obj} that is in the {room}.",
        f"Please bring me the {obj} from the {room}.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        f"pick({_q(obj)})",
        f"go_to({start})",
        f"place({_q(obj)})",
    ])


def fetch_if_present(rng: random.Random) -> tuple[str, str]:
    obj, room, start = rng.choice(OBJECTS), rng.choice(ROOMS), _start_var(rng)
    instruction = rng.choice((
        f"Check if there is {_a(obj)} in the {room}. If there is, bring it to me; otherwise tell me there is none.",
        f"Go to the {room} and bring me the {obj} if it is there. If not, come back and tell me.",
        f"Look for {_a(obj)} in the {room}. Bring it here if you find it, else let me know it is missing.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        f"if is_in_room({_q(obj)}):",
        f"    pick({_q(obj)})",
        f"    go_to({start})",
        f"    place({_q(obj)})",
        "else:",
        f"    go_to({start})",
        f"    say({_q(f'There is no {obj} in the {room}')})",
    ])


def check_and_report(rng: random.Random) -> tuple[str, str]:
    obj, room, start = rng.choice(OBJECTS), rng.choice(ROOMS), _start_var(rng)
    instruction = rng.choice((
        f"Go to the {room} and tell me whether there is {_a(obj)} there.",
        f"Is there {_a(obj)} in the {room}? Go check and come back to tell me.",
        f"Check the {room} for {_a(obj)} and report back.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        f"found = is_in_room({_q(obj)})",
        f"go_to({start})",
        "if found:",
        f"    say({_q(f'There is {_a(obj)} in the {room}')})",
        "else:",
        f"    say({_q(f'There is no {obj} in the {room}')})",
    ])


def check_every_room(rng: random.Random) -> tuple[str, str]:
    obj, start = rng.choice(OBJECTS), _start_var(rng)
    rooms_var = rng.choice(("rooms", "all_rooms", "list_of_rooms"))
    found = rng.choice(("found", "rooms_with_item", "matches"))
    instruction = rng.choice((
        f"Check every room for {_a(obj)} and tell me which rooms have one.",
        f"Go through all the rooms and find out where there is {_a(obj)}. Come back and list them for me.",
        f"Which rooms have {_a(obj)}? Visit each room and report back.",
        f"Search every room for {_a(obj)}, then come back and say where you saw one.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"{rooms_var} = get_all_rooms()",
        f"{found} = []",
        f"for room in {rooms_var}:",
        "    go_to(room)",
        f"    if is_in_room({_q(obj)}):",
        f"        {found}.append(room)",
        f"go_to({start})",
        f"say({_q(f'The {obj} is in: ')} + {_q(', ')}.join({found}))",
    ])


def count_and_report(rng: random.Random) -> tuple[str, str]:
    obj, start = rng.choice(OBJECTS), _start_var(rng)
    counter = rng.choice(("count", "total", "n"))
    instruction = rng.choice((
        f"Count how many rooms have {_a(obj)} and tell me the number.",
        f"Go to every room and count the rooms with {_a(obj)}. Come back and report the count.",
        f"How many rooms contain {_a(obj)}? Check them all and let me know.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"{counter} = 0",
        "for room in get_all_rooms():",
        "    go_to(room)",
        f"    if is_in_room({_q(obj)}):",
        f"        {counter} += 1",
        f"go_to({start})",
        f"say({_q('I found ')} + str({counter}) + {_q(f' rooms with {_a(obj)}')})",
    ])


def count_people(rng: random.Random) -> tuple[str, str]:
    kind, start = rng.choice(ROOM_KINDS), _start_var(rng)
    instruction = rng.choice((
        f"Check every {kind} and tell me how many of them have someone in them.",
        f"Count the occupied {_plural(kind)} and report the number to me.",
        f"Visit all the {_plural(kind)} and come back to tell me how many people you saw.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        "count = 0",
        "for room in get_all_rooms():",
        f"    if {_q(kind)} not in room:",
        "        continue",
        "    go_to(room)",
        '    if is_in_room("person"):',
        "        count += 1",
        f"go_to({start})",
        f"say({_q('People are in ')} + str(count) + {_q(' ' + _plural(kind))})",
    ])


def wait_for_someone(rng: random.Random) -> tuple[str, str]:
    room, message = rng.choice(ROOMS), rng.choice(MESSAGES)
    instruction = rng.choice((
        f'Go to the {room} and wait until someone arrives, then say "{message}".',
        f'Wait in the {room} for a person to show up and tell them "{message}".',
        f'Head to the {room}. When somebody is there, say "{message}".',
    ))
    return instruction, _program([
        f"go_to({_q(room)})",
        'while not is_in_room("person"):',
        "    time.sleep(1)",
        f"say({_q(message)})",
    ])


def wait_and_ask(rng: random.Random) -> tuple[str, str]:
    room, start, var = rng.choice(ROOMS), _start_var(rng), _answer_var(rng)
    clause, question = rng.choice(YES_NO_QUESTIONS)
    instruction = rng.choice((
        f"Go to the {room}, wait for someone to show up, ask them if {clause}, and tell me what they said.",
        f"Wait in the {room} until a person comes, then ask whether {clause}. Come back with the answer.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(room)})",
        'while not is_in_room("person"):',
        "    time.sleep(1)",
        f'{var} = ask("person", {_q(question)}, ["Yes", "No"])',
        f"go_to({start})",
        f"say({_q('They said: ')} + {var})",
    ])


def ask_then_fetch(rng: random.Random) -> tuple[str, str]:
    person, obj, room = rng.choice(PEOPLE), rng.choice(OBJECTS), rng.choice(ROOMS)
    place, var = _person_place(rng, person), _answer_var(rng)
    instruction = rng.choice((
        f"Ask {person} in {place} if they want the {obj}. If yes, bring it from the {room}.",
        f"Go to {place} and ask {person} whether they need {_a(obj)}. If they do, get one from the {room} for them;"
        " if not, tell them okay.",
        f"Check with {person} in {place} if {_a(obj)} is needed, and deliver it from the {room} if so.",
    ))
    return instruction, _program([
        f"go_to({_q(place)})",
        f"{var} = ask({_q(person)}, {_q(f'Do you want the {obj}?')}, [\"Yes\", \"No\"])",
        f'if {var} == "Yes":',
        f"    go_to({_q(room)})",
        f"    pick({_q(obj)})",
        f"    go_to({_q(place)})",
        f"    place({_q(obj)})",
        "else:",
        '    say("Okay")',
    ])


def deliver_to_each(rng: random.Random) -> tuple[str, str]:
    obj, kind = rng.choice(OBJECTS), rng.choice(ROOM_KINDS)
    supply = rng.choice([r for r in ROOMS if kind not in r])
    instruction = rng.choice((
        f"Put {_a(obj)} from the {supply} in every {kind}.",
        f"Deliver {_a(obj)} to each {kind}, taking them from the {supply}.",
        f"Bring one {obj} from the {supply} to every {kind}.",
    ))
    return instruction, _program([
        "for room in get_all_rooms():",
        f"    if {_q(kind)} not in room:",
        "        continue",
        f"    go_to({_q(supply)})",
        f"    pick({_q(obj)})",
        "    go_to(room)",
        f"    place({_q(obj)})",
    ])


def restock_missing(rng: random.Random) -> tuple[str, str]:
    obj, kind = rng.choice(OBJECTS), rng.choice(ROOM_KINDS)
    supply = rng.choice([r for r in ROOMS if kind not in r])
    instruction = rng.choice((
        f"Make sure every {kind} has {_a(obj)}; bring one from the {supply} to each {kind} without one.",
        f"Check each {kind} for {_a(obj)}. If one is missing, fetch {_a(obj)} from the {supply} and leave it there.",
    ))
    return instruction, _program([
        "for room in get_all_rooms():",
        f"    if {_q(kind)} not in room:",
        "        continue",
        "    go_to(room)",
        f"    if not is_in_room({_q(obj)}):",
        f"        go_to({_q(supply)})",
        f"        pick({_q(obj)})",
        "        go_to(room)",
        f"        place({_q(obj)})",
    ])


def find_person(rng: random.Random) -> tuple[str, str]:
    person, message = rng.choice(PEOPLE), rng.choice(MESSAGES)
    instruction = rng.choice((
        f'Find {person} and tell them "{message}".',
        f'Look for {person} in every room. When you find them, say "{message}".',
        f'Go from room to room until you find {person}, then give them the message "{message}".',
    ))
    return instruction, _program([
        "for room in get_all_rooms():",
        "    go_to(room)",
        f"    if is_in_room({_q(person)}):",
        f"        say({_q(message)})",
        "        break",
    ])


def remind_person(rng: random.Random) -> tuple[str, str]:
    person, event, start = rng.choice(PEOPLE), rng.choice(EVENTS), _start_var(rng)
    place = _person_place(rng, person)
    instruction = rng.choice((
        f"Go to {place} and remind {person} about {event}. If {person} is not there, tell me.",
        f"Remind {person} of {event} in {place}; let me know if they were away.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        f"go_to({_q(place)})",
        f"if is_in_room({_q(person)}):",
        f"    say({_q(f'{person}, do not forget {event}')})",
        "else:",
        f"    go_to({start})",
        f"    say({_q(f'{person} was not there')})",
    ])


def ask_everyone(rng: random.Random) -> tuple[str, str]:
    kind, start = rng.choice(ROOM_KINDS), _start_var(rng)
    clause, question = rng.choice(YES_NO_QUESTIONS)
    instruction = rng.choice((
        f"Go to every {kind} and, if someone is there, ask if {clause}. Tell me how many said yes.",
        f"Ask the people in each {kind} whether {clause}, then report how many answered yes.",
        f"Visit all {_plural(kind)}; ask anyone you find if {clause}. Come back with the number of yes answers.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        "yes_count = 0",
        "for room in get_all_rooms():",
        f"    if {_q(kind)} not in room:",
        "        continue",
        "    go_to(room)",
        '    if is_in_room("person"):',
        f'        if ask("", {_q(question)}, ["Yes", "No"]) == "Yes":',
        "            yes_count += 1",
        f"go_to({start})",
        f"say(str(yes_count) + {_q(' people said yes')})",
    ])


def move_if_present(rng: random.Random) -> tuple[str, str]:
    obj = rng.choice(OBJECTS)
    source, target = _two_rooms(rng)
    instruction = rng.choice((
        f"If there is {_a(obj)} in the {source}, move it to the {target}.",
        f"Check the {source} for {_a(obj)} and, if you see one, take it to the {target}.",
        f"Move any {obj} you find in the {source} to the {target}; say so if there is none.",
    ))
    return instruction, _program([
        f"go_to({_q(source)})",
        f"if is_in_room({_q(obj)}):",
        f"    pick({_q(obj)})",
        f"    go_to({_q(target)})",
        f"    place({_q(obj)})",
        "else:",
        f"    say({_q(f'No {obj} here')})",
    ])


def tour_rooms(rng: random.Random) -> tuple[str, str]:
    rooms = rng.sample(ROOMS, 3)
    message = rng.choice(MESSAGES)
    instruction = rng.choice((
        f'Visit the {rooms[0]}, the {rooms[1]} and the {rooms[2]}, and say "{message}" in each.',
        f'Say "{message}" in the {rooms[0]}, then in the {rooms[1]}, then in the {rooms[2]}.',
    ))
    return instruction, _program([
        "for room in [" + ", ".join(_q(r) for r in rooms) + "]:",
        "    go_to(room)",
        f"    say({_q(message)})",
    ])


def collect_all(rng: random.Random) -> tuple[str, str]:
    obj, target = rng.choice(OBJECTS), rng.choice(ROOMS)
    instruction = rng.choice((
        f"Collect every {obj} you can find in the rooms and bring them to the {target}.",
        f"Gather all the {_plural(obj)} from around the building into the {target}.",
        f"Go through each room and take any {obj} to the {target}.",
    ))
    return instruction, _program([
        "for room in get_all_rooms():",
        f"    if room == {_q(target)}:",
        "        continue",
        "    go_to(room)",
        f"    if is_in_room({_q(obj)}):",
        f"        pick({_q(obj)})",
        f"        go_to({_q(target)})",
        f"        place({_q(obj)})",
    ])


def report_location(rng: random.Random) -> tuple[str, str]:
    room = rng.choice(ROOMS)
    instruction = rng.choice((
        f"Go to the {room} and then tell me where you are.",
        f"Move to the {room} and announce your current location.",
    ))
    return instruction, _program([
        f"go_to({_q(room)})",
        'say("I am in the " + get_current_location())',
    ])


def ask_two_people(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(PEOPLE, 2)
    clause, question = rng.choice(YES_NO_QUESTIONS)
    start = _start_var(rng)
    instruction = rng.choice((
        f"Ask {first} and {second} in their offices if {clause}. Come back and tell me who said yes.",
        f"Go to the offices of {first} and {second} and ask each whether {clause}; report who answered yes.",
    ))
    return instruction, _program([
        f"{start} = get_current_location()",
        "said_yes = []",
        f"for name in [{_q(first)}, {_q(second)}]:",
        '    go_to(name + "\'s office")',
        f'    if ask(name, {_q(question)}, ["Yes", "No"]) == "Yes":',
        "        said_yes.append(name)",
        f"go_to({start})",
        'say("Yes from: " + ", ".join(said_yes))',
    ])


def relay_answer(rng: random.Random) -> tuple[str, str]:
    first, second = rng.sample(PEOPLE, 2)
    category, options = rng.choice(CHOICES)
    var = _answer_var(rng)
    first_place, second_place = _person_place(rng, first), _person_place(rng, second)
    instruction = rng.choice((
        f"Ask {first} in {first_place} which {category} they like best among {_list_text(options)}, then go tell "
        f"{second} in {second_place} the answer.",
        f"Find out {first}'s favorite {category} ({_list_text(options)}) and pass it on to {second}.",
    ))
    option_list = "[" + ", ".join(_q(o) for o in options) + "]"
    return instruction, _program([
        f"go_to({_q(first_place)})",
        f"{var} = ask({_q(first)}, {_q(f'Which {category} do you like best?')}, {option_list})",
        f"go_to({_q(second_place)})",
        f"say({_q(f'{first} likes ')} + {var})",
    ])


PATTERNS: tuple[Pattern, ...] = (
    say_in_room, say_and_return, ask_and_report, ask_choice, fetch_and_deliver, fetch_to_me, fetch_if_present,
    check_and_report, check_every_room, count_and_report, count_people, wait_for_someone, wait_and_ask,
    ask_then_fetch, deliver_to_each, restock_missing, find_person, remind_person, ask_everyone, move_if_present,
    tour_rooms, collect_all, report_location, ask_two_people, relay_answer,
)
"""Every control pattern the generator draws from (uniformly)."""


# ---- decontamination --------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (a stand-in for the CodeLlama tokenizer Robo-Instruct used)."""
    return _TOKEN.findall(text.lower())


def token_similarity(a: list[str], b: list[str]) -> float:
    """``1 - levenshtein(a, b) / max(len(a), len(b))`` over token lists (1.0 for two empty lists)."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, token_a in enumerate(a, 1):
        current = [i]
        for j, token_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token_a != token_b)))
        previous = current
    return 1.0 - previous[-1] / longest


def _similarity_bound(a: list[str], b: list[str], b_counts: Counter) -> float:
    """An upper bound of `token_similarity` (edits ≥ max length − shared tokens), cheap to compute."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    shared = sum((Counter(a) & b_counts).values())
    return shared / longest


class Decontaminator:
    """Flags instructions whose token similarity to any reference prompt exceeds a threshold.

    Args:
        references: The prompts to keep away from (the 80 RoboEval prompts).
        threshold: Similarity above which an instruction is contaminated (Robo-Instruct: 0.6).
    """

    def __init__(self, references: list[str], threshold: float = SIMILARITY_THRESHOLD) -> None:
        self.threshold = threshold
        self.references = [(tokens, Counter(tokens)) for tokens in map(tokenize, references)]

    def max_similarity(self, instruction: str) -> float:
        """The highest similarity of ``instruction`` to a reference (0.0 without references)."""
        tokens = tokenize(instruction)
        best = 0.0
        for ref_tokens, ref_counts in self.references:
            if _similarity_bound(tokens, ref_tokens, ref_counts) > best:
                best = max(best, token_similarity(tokens, ref_tokens))
        return best

    def is_contaminated(self, instruction: str) -> bool:
        """Whether some reference is more similar than the threshold (pruned with a cheap upper bound)."""
        tokens = tokenize(instruction)
        return any(
            _similarity_bound(tokens, ref_tokens, ref_counts) > self.threshold
            and token_similarity(tokens, ref_tokens) > self.threshold
            for ref_tokens, ref_counts in self.references
        )


def load_roboeval_prompts(data_dir: Path | str = DEFAULT_DATA_DIR) -> list[str]:
    """The 80 RoboEval prompts (first line of each ``roboeval_data.csv`` row), or ``[]`` when the file is absent
    (with ``"auto"``, a warning saying how to provide it).

    Read for decontamination only: these prompts must never be emitted as training data.
    """
    if data_dir == "auto":
        from lit_coderl.data.benchmarks import resolve_data_dir

        try:
            data_dir = resolve_data_dir("roboeval", fetch=False)
        except FileNotFoundError:
            import warnings

            warnings.warn("RoboEval prompts not found (set LIT_CODERL_DATA_DIR or run `python -m lit_coderl data "
                          "fetch roboeval`): generated robot tasks are not decontaminated against them", stacklevel=2)
            return []
    path = Path(data_dir) / "roboeval" / "roboeval_data.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["prompt_program"].split("\n", 1)[0].strip() for row in csv.DictReader(handle)]


# ---- the generator -------------------------------------------------------------------------------------------------


def generate_pairs(n: int, seed: int, decontaminator: Decontaminator | None = None) -> list[tuple[str, str]]:
    """``n`` (instruction, program) pairs with distinct instructions, drawn reproducibly from ``seed``.

    Raises `RuntimeError` if the patterns cannot produce ``n`` distinct clean instructions.
    """
    rng = random.Random(f"robot-tasks:{seed}")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could only generate {len(pairs)} distinct robot tasks out of {n} requested")
        instruction, program = rng.choice(PATTERNS)(rng)
        if instruction in seen:
            continue
        seen.add(instruction)
        if decontaminator is not None and decontaminator.is_contaminated(instruction):
            continue
        pairs.append((instruction, program))
    return pairs


def generate_tasks(
    n: int,
    seed: int,
    style: PromptStyle = "compact",
    data_dir: Path | str | None = DEFAULT_DATA_DIR,
) -> list[dict[str, Any]]:
    """``n`` generated robot task rows.

    Args:
        n: Number of rows (distinct instructions).
        seed: Seed of the draw; the same ``(n, seed)`` gives the same rows.
        style: Prompt format of ``messages`` (`lit_coderl.robot.prompts.chat_messages`).
        data_dir: A benchmark data folder, or ``"auto"`` (the benchmark data resolution); when
            ``roboeval/roboeval_data.csv`` is found, instructions too similar to a RoboEval prompt are dropped. None
            skips decontamination.

    Returns:
        Rows ``{"task_id", "messages", "reference", "robot": {"instruction", "program"}}`` where ``reference`` is
        the assistant's answer (the fenced program) and ``robot.program`` the bare ``def task_program():`` program.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    references = load_roboeval_prompts(data_dir) if data_dir is not None else []
    decontaminator = Decontaminator(references) if references else None
    rows = []
    for index, (instruction, program) in enumerate(generate_pairs(n, seed, decontaminator)):
        rows.append({
            "task_id": f"robogen-{seed}-{index:05d}",
            "messages": chat_messages(instruction, style),
            "reference": assistant_answer(program),
            "robot": {"instruction": instruction, "program": program},
        })
    return rows
