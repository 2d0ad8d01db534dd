"""What each kind of task does. Pure functions of the payload, so they are easy to test."""

import time

MAX_SLEEP_SECONDS = 30


def echo(payload: dict) -> dict:
    return payload


def add(payload: dict) -> dict:
    numbers = payload.get("numbers", [])
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        raise ValueError("numbers must be a list of numbers")
    return {"sum": sum(numbers)}


def sleep(payload: dict) -> dict:
    seconds = min(float(payload.get("seconds", 1)), MAX_SLEEP_SECONDS)
    time.sleep(seconds)
    return {"slept": seconds}


HANDLERS = {"echo": echo, "sum": add, "sleep": sleep}


def run(kind: str, payload: dict) -> dict:
    try:
        handler = HANDLERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}") from None
    return handler(payload)
