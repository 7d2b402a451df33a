"""The admin, made for curating the people directory.

Every change to people and faces goes through ``tagging.services.people``:
the services keep the face constraints (a person exactly when suggested or
confirmed), refresh the suggestions a change makes stale, and write one
LogEntry per change. So the admin's own logging is switched off wherever a
service has already logged.

Staff follow the site's access rule here too (``visible_to``): no title, name,
photo, count or crop of another member's private album appears in a list, a
change page, a search, an autocomplete or an action, and such an object's
pages answer 404, as a missing one does.
"""

from tagging.admin import claims, faces, people, photos  # noqa: F401  (each registers its models)
from tagging.admin.base import view_on_site

__all__ = ["view_on_site"]
