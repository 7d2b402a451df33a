from django.conf import settings
from django.utils.functional import SimpleLazyObject

from tagging import selectors
from tagging.services.undo import undo_period


def site(request):
    user = getattr(request, "user", None)
    return {
        "signup_mode": settings.SIGNUP,
        # Asked only by a page that shows it (base.html does): one query.
        "undo_offer": SimpleLazyObject(lambda: selectors.undo_offered(user=user) if user else None),
        "undo_period": undo_period(),
    }
