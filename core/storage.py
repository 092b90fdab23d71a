import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """Private files (documents, contracts, signatures) under PRIVATE_MEDIA_ROOT.

    The location is read from settings at each use rather than once, so a test can point it
    at a temporary folder. No URL serves these files: base_url is deliberately unusable.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("base_url", "/no-public-url/")
        super().__init__(**kwargs)

    @property
    def base_location(self):
        return self._value_or_setting(self._location, str(settings.PRIVATE_MEDIA_ROOT))

    @property
    def location(self):
        return os.path.abspath(self.base_location)
