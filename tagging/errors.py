"""The one contract for refusals a member reads.

A service that declines to act raises a subclass of :class:`ActionRefused`
whose ``str(error)`` is the sentence shown to the member; views turn any of
them into a message and a redirect (or a JSON 400 for a script) in one place,
``tagging.views.replies``. Kept free of Django so that any module may import it.
"""


class ActionRefused(Exception):
    """Nothing was done, for a reason the member can read: ``str(error)`` says it in plain
    words, lower case and without a full stop, so a caller may put it in a sentence."""
