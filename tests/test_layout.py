"""The layout a newcomer finds their way in: no module too long to read, and a face
library that stands on its own."""

import ast
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("photosite", "tagging", "devtools", "tests")
MAX_LINES = 400
FACE_LIBRARY = ROOT / "tagging" / "faces"


class KnownLong(NamedTuple):
    path: str
    why: str


# None now; a module that must stay long names itself here, with why.
KNOWN_LONG: tuple[KnownLong, ...] = ()


def _python_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def test_no_module_outside_migrations_is_over_400_lines():
    known = {entry.path for entry in KNOWN_LONG}
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in _python_files()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
        and str(path.relative_to(ROOT)) not in known
    }

    assert too_long == {}, f"split these (line counts): {too_long}"


def test_the_known_long_modules_still_exist():
    # An exception for a file that is gone or split is one to delete.
    for entry in KNOWN_LONG:
        path = ROOT / entry.path
        assert path.exists(), entry
        assert len(path.read_text().splitlines()) > MAX_LINES, f"{entry.path} is short now: drop it"


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (functions too), as absolute names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: inside the library, unless it climbs out of it.
                package = path.relative_to(ROOT).parent.parts
                anchor = package[: len(package) - node.level + 1]
                names.add(".".join([*anchor, node.module] if node.module else anchor))
            else:
                names.add(node.module)
    return names


def test_the_face_library_imports_nothing_of_django_or_the_site():
    found = {}
    for path in sorted(FACE_LIBRARY.rglob("*.py")):
        outside = {
            name
            for name in _imported(path)
            if name.split(".")[0] in ("django", "photosite", "devtools", "celery")
            or (name.startswith("tagging") and not name.startswith("tagging.faces"))
        }
        if outside:
            found[str(path.relative_to(ROOT))] = sorted(outside)

    assert found == {}, found


def test_the_import_check_sees_an_import_of_django(tmp_path):
    # The check above must be able to fail: a module that imports Django is caught.
    sample = tmp_path / "probe.py"
    sample.write_text("def late():\n    from django.conf import settings\n    return settings\n")

    assert "django.conf" in _imported(sample)
