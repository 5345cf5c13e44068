"""The words the robot task generator fills its templates with (`lit_coderl.robot.templates`), as data."""

from __future__ import annotations

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
START_VARS = ("start_loc", "start", "home", "origin")
ANSWER_VARS = ("response", "answer", "reply")

VOCABULARY = {
    "ROOMS": ROOMS, "PEOPLE": PEOPLE, "PLACES_OF": PLACES_OF, "OBJECTS": OBJECTS, "ROOM_KINDS": ROOM_KINDS,
    "YES_NO_QUESTIONS": YES_NO_QUESTIONS, "CHOICES": CHOICES, "MESSAGES": MESSAGES, "EVENTS": EVENTS,
    "START_VARS": START_VARS, "ANSWER_VARS": ANSWER_VARS,
}
"""Every word list by name, as templates refer to them."""
