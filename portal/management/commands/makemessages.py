from django.core.management.commands import makemessages


class Command(makemessages.Command):
    # Without this, msgmerge "guesses" a translation for every new text from a similar old one
    # (marked fuzzy), and a guess like 省份 → 开通日期 is easy to miss. New texts stay empty
    # until translated, which the catalogue test catches.
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
