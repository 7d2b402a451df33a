"""Words the site writes for people: counts with their nouns."""


def plural(count: int, word: str) -> str:
    """ "1 face", "2 faces": for nouns that take an s, which are all photosite counts."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
