"""
Error reports without full ID or bank account numbers (issue 6, item 7).

Django's report — mailed to ADMINS by AdminEmailHandler, shown as the DEBUG page — hides the
POST fields a view names with ``sensitive_post_parameters`` and settings that look secret, but
prints the URL, the GET parameters, the request headers, the exception's message and (in the
HTML form) every frame's local variables as they are. A staff search by a full number puts it
in the URL; a view or service holding the applicant's ``values`` has it in a local variable.
Here every run of 12 or more digits in those is masked but for its last four.
"""

import re
import unicodedata

from django.template.defaultfilters import pprint
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Digits typed in groups ("6222 0200 …") or full-width ("６２２２") count too.
_LONG_NUMBER = re.compile(r"[0-9](?:[\s\-.]?[0-9Xx]){11,}")


def mask_long_numbers(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _LONG_NUMBER.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


class _Masked:
    """A value shown in the report as its masked representation."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class PIIExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self._masked(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def get_safe_request_meta(self, request):
        return {
            name: mask_long_numbers(value) if isinstance(value, str) else value
            for name, value in super().get_safe_request_meta(request).items()
        }

    @staticmethod
    def _masked(value):
        shown = pprint(value)
        masked = mask_long_numbers(shown)
        return value if masked == shown else _Masked(masked)


class PIIExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            data["request_GET_items"] = [
                (name, mask_long_numbers(value)) for name, value in self.request.GET.items()
            ]
            data["request_insecure_uri"] = mask_long_numbers(data["request_insecure_uri"])
        if "exception_value" in data:
            data["exception_value"] = mask_long_numbers(data["exception_value"])
        return data
