"""The broker queues every worker consumes.

``default`` holds photos and background work. ``default.interactive`` holds what
a member waits for on a page (find-by-face's dropped photo). kombu's Redis
transport takes from a worker's queues in turn, so an interactive task waits
for the task running now, not for a whole queued import.
"""

from kombu import Queue


def interactive_queue(default: str) -> str:
    return f"{default}.interactive"


def worker_queues(default: str) -> tuple[Queue, Queue]:
    return Queue(default), Queue(interactive_queue(default))
