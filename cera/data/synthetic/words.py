"""Shared vocabulary of the synthetic tasks and of the pre-training corpus.

One list for both on purpose: the backbone learns these words and facts during pre-training, so
the adapters are trained on a *skill* (following the template, computing the answer), not on
unseen vocabulary.
"""

from __future__ import annotations

NAMES = (
    ("Tom", "he"), ("Ann", "she"), ("Sam", "he"), ("Mia", "she"), ("Leo", "he"), ("Ava", "she"),
    ("Ben", "he"), ("Zoe", "she"), ("Max", "he"), ("Lily", "she"), ("Noah", "he"), ("Emma", "she"),
    ("Jack", "he"), ("Nora", "she"), ("Omar", "he"), ("Rosa", "she"), ("Ivan", "he"), ("Lena", "she"),
    ("Ravi", "he"), ("Kira", "she"),
)  # fmt: skip

OBJECTS = (
    "apples", "pens", "books", "cards", "marbles", "stickers", "cookies", "eggs", "coins",
    "shells", "stamps", "toys", "pencils", "oranges", "balloons", "cups", "rocks", "beads",
)  # fmt: skip

ITEMS = ("pen", "book", "toy", "cup", "ball", "hat", "kite", "shirt", "lamp", "map")

WORDS = (
    "apple", "river", "stone", "light", "green", "table", "music", "happy", "cloud", "bread",
    "horse", "plant", "chair", "sugar", "tiger", "candle", "garden", "window", "pencil", "rocket",
    "silver", "forest", "yellow", "orange", "winter", "summer", "planet", "bottle", "dragon",
    "castle", "moon", "star", "fish", "tree", "lamp", "book", "sand", "rain", "wind", "fire",
    "snow", "milk", "bird", "frog", "ship", "road", "banana", "lemon", "paper", "water", "house",
    "mouse", "queen", "zebra", "jungle", "pepper", "kitten", "button", "bridge", "island",
)  # fmt: skip

ADJECTIVES = ("red", "big", "small", "old", "new", "soft", "quiet", "bright", "warm", "cold", "tall", "short")
VERBS = ("sees", "finds", "likes", "holds", "paints", "draws", "moves", "cleans", "buys", "opens")

COLORS = {
    "grass": "green", "the sky": "blue", "snow": "white", "coal": "black", "a banana": "yellow",
    "a tomato": "red", "a carrot": "orange", "milk": "white", "a lemon": "yellow", "a crow": "black",
    "a frog": "green", "a plum": "purple", "chocolate": "brown", "blood": "red", "the sea": "blue",
    "a lime": "green", "salt": "white", "an orange": "orange", "a cherry": "red", "a grape": "purple",
}  # fmt: skip

_PAIRS = (
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("fast", "slow"), ("happy", "sad"),
    ("light", "dark"), ("open", "closed"), ("early", "late"), ("full", "empty"), ("hard", "soft"),
    ("high", "low"), ("left", "right"), ("wet", "dry"), ("strong", "weak"), ("rich", "poor"),
    ("loud", "quiet"), ("long", "short"), ("first", "last"), ("true", "false"), ("day", "night"),
)  # fmt: skip
OPPOSITES = {**{a: b for a, b in _PAIRS}, **{b: a for a, b in _PAIRS}}

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_word(n: int) -> str:
    """English words for 0 <= n <= 99 ("forty-two")."""
    if not 0 <= n <= 99:
        raise ValueError(f"number_word supports 0..99, got {n}")
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("-" + _ONES[ones] if ones else "")
