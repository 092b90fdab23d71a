"""
What each kind of notification says, collected from every app's ``notifications.py``
(``TEXTS = {kind: Text(title, body)}``, see core/registry.py). Only the kind and its parameters
are stored with a notification; the text is rendered when it is shown or e-mailed, in the
reader's language.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise

from core import registry


@dataclass(frozen=True)
class Text:
    title: Promise
    body: Promise
    # Turns the stored parameters into what the text shows (a code into its label), called
    # with the reader's language active.
    prepare: Callable[[dict], dict] | None = None


@registry.cached
def texts() -> dict[str, Text]:
    return registry.merged("notifications", "TEXTS")


def known(kind: str) -> bool:
    return kind in texts()


def render(kind: str, params: dict) -> Text:
    """Title and body of a notification of ``kind`` in the active language."""
    text = texts()[kind]
    values = dict(params)
    if text.prepare is not None:
        values = text.prepare(values)
    return Text(str(text.title) % values, str(text.body) % values)
