"""Typed search: "Anna and Ben", an album's title, "2024", "May 2024" or "2024-05",
read into what to look for. Only people, albums and photos the member may see
are ever matched (the ``visible_to`` querysets, through the selectors)."""

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from tagging import selectors, selectors_photos
from tagging.models import Album, Person

SEPARATORS = re.compile(r"\s*(?:,|&|\+|\band\b)\s*", re.IGNORECASE)
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})


@dataclass
class Search:
    people: list[Person] = field(default_factory=list)
    albums: list[Album] = field(default_factory=list)
    # (start, end) half-open ranges in the current time zone, or a month of any year.
    periods: list[tuple[datetime, datetime]] = field(default_factory=list)
    months: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.people or self.albums or self.periods or self.months)


def terms_split(text: str) -> list[str]:
    return [term.strip() for term in SEPARATORS.split(text or "") if term.strip()]


def _aware(year: int, month: int = 1) -> datetime:
    return timezone.make_aware(datetime(year, month, 1))


def _period(term: str) -> tuple[tuple[datetime, datetime] | None, int | None, str]:
    """A year, a month of a year, or a month of any year; (None, None, "") otherwise."""
    text = term.lower()
    if re.fullmatch(r"(19|20)\d\d", text):
        year = int(text)
        return (_aware(year), _aware(year + 1)), None, text
    matched = re.fullmatch(r"((?:19|20)\d\d)-(\d{1,2})", text)
    year, month = (int(matched[1]), int(matched[2])) if matched else (None, None)
    matched = re.fullmatch(r"([a-z]+)\.?(?:\s+((?:19|20)\d\d))?", text)
    if matched and matched[1] in MONTHS:
        month, year = MONTHS[matched[1]], int(matched[2]) if matched[2] else None
    if month is None or not 1 <= month <= 12:
        return None, None, ""
    label = calendar.month_name[month]
    if year is None:
        return None, month, label
    end = _aware(year + 1) if month == 12 else _aware(year, month + 1)
    return (_aware(year, month), end), None, f"{label} {year}"


def search_parse(*, user, text: str) -> Search:
    """Each term is a date, then a person's name, then an album's title: exact first,
    then a part of one that only one person or album has."""
    search = Search()
    people = selectors.people_nameable(user=user)
    albums = Album.objects.visible_to(user)
    for term in terms_split(text):
        period, month, label = _period(term)
        if period or month:
            search.periods += [period] if period else []
            search.months += [month] if month else []
            search.labels.append(label)
            continue
        person = people.filter(name__iexact=term).first()
        album = None if person else albums.filter(title__iexact=term).first()
        if not (person or album):
            near_people = list(people.filter(name__icontains=term)[:2])
            near_albums = list(albums.filter(title__icontains=term)[:2])
            if len(near_people) == 1 and not near_albums:
                person = near_people[0]
            elif len(near_albums) == 1 and not near_people:
                album = near_albums[0]
        if person:
            search.people.append(person)
            search.labels.append(person.name)
        elif album:
            search.albums.append(album)
            search.labels.append(f"“{album.title}”")
        else:
            search.unknown.append(term)
    return search


def suggestions(*, user, text: str, limit: int = 12) -> list[str]:
    """Whole queries that complete the last term of ``text``: names, album titles, years."""
    parts = SEPARATORS.split(text or "")
    last = parts[-1].strip() if parts else ""
    head = text[: len(text) - len(parts[-1])] if parts else ""
    if head and not head.endswith(" "):
        head += " "
    if not last:
        return []
    # Names and titles by the start of a word, as people type them; and no one twice.
    earlier = [term.lower() for term in terms_split(head)]
    names = selectors.people_nameable(user=user).filter(
        Q(name__istartswith=last) | Q(name__icontains=" " + last)
    )
    titles = Album.objects.visible_to(user).filter(
        Q(title__istartswith=last) | Q(title__icontains=" " + last)
    )
    found = list(names.order_by("name").values_list("name", flat=True).distinct()[:limit])
    found += list(titles.order_by("title").values_list("title", flat=True).distinct()[:limit])
    years = selectors_photos.photo_years(user=user)
    found += [str(year) for year in years if str(year).startswith(last)]
    found += [
        f"{name} {year}"
        for name in calendar.month_name[1:]
        if name.lower().startswith(last.lower())
        for year in years[:3]
    ]
    return [head + item for item in dict.fromkeys(found) if item.lower() not in earlier][:limit]
