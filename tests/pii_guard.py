"""
A pytest plugin that fails the test session when a full resident ID number or bank account
number reaches a log record or an error report (issue 6, item 7; DESIGN.md §7).

For the whole session a handler on the root logger, and on every logger that does not
propagate (``django.server``, Celery's worker loggers), inspects each record: its message,
its formatted traceback and stack, and every ``extra`` field. A record that carries a request
and is an error also gets the error report Django would e-mail (``DEFAULT_EXCEPTION_REPORTER``
and its filter, as ``AdminEmailHandler`` builds it) inspected, whether or not ``ADMINS`` is
set. Logs that real worker processes write for a test (``start_celery``) are read after it.

What is searched for is a registry of *planted* values — the numbers the test data uses:

- every ID and card number made by ``portal.demo.resident_id``/``card_number`` (which
  ``tests/onboarding.py`` and ``seed_demo`` go through) and the demo applicants' cards;
- every number the portal encrypts at rest (``core.pii.encrypt``): whatever a test saved as
  an ID or account number, however it made it;
- every quoted 16–19 digit literal (or 17 digits and an X) in the test sources;
- anything a test passes to ``plant(value)``.

The factories (tests/factories.py) make no ID or account numbers, only masked card numbers.

A planted number is found in its common disguises: with spaces, dashes or dots between the
digits, in full-width digits (as Chinese input methods type them), with a lower-case x; a
number with a check character (an ID number, a Luhn-valid card) is also found with that
character wrong, since a mistyped check digit leaves the rest of the number exposed. Masked
forms (``310***********1234``, ``622202*********0018``) are not findings.

Cost: one compiled regular expression per record finds runs of 12 or more digits; only those
runs are looked up, window by window, in a dict of planted numbers. Nothing else about a
record is kept. Runs that match nothing are remembered (once each) and looked up again at
the end, so a number planted after it was logged is still caught.

At the end of the session every finding is printed — the number masked but for its last four
digits, the logger, where in the record, the test that was running — and the session's exit
status becomes 1.

Under pytest-xdist (``make test`` runs ``-n auto``) every worker process has a guard of its
own, and neither a worker's exit status nor its terminal summary reaches the run's outcome.
So each worker hands its findings, its planted numbers, its unmatched runs and its counts to
the controller (``workeroutput``) when it finishes; the controller merges them, looks again at
every worker's unmatched runs with the numbers planted in all of them (a number planted by a
test on one worker and logged on another is caught), prints the findings and fails the run.

``watching()`` lets a test assert on what happened inside a block::

    with pii_guard.watching() as seen:
        client.post(...)
    assert seen.findings == []
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
# Shorter numbers (mobile numbers, MIDs, RRNs) are not what this looks for, and searching for
# them would find them by chance in unrelated digits.
MIN_LENGTH = 12
# Candidate runs remembered for the final re-check; past this the oldest are not re-checked.
MAX_CANDIDATES = 50_000

_SEPARATOR = r"[\s\-._/]"
_RUN = re.compile(rf"[0-9](?:{_SEPARATOR}?[0-9Xx]){{{MIN_LENGTH - 1},}}")
_SEPARATORS = re.compile(_SEPARATOR)
# In the test sources: a quoted number as long as a bank card, or an ID number.
_SOURCE_LITERAL = re.compile(r"""(?<![\w"'])["']([0-9]{16,19}|[0-9]{17}[Xx])["']""")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
# What an ID or account number looks like once compacted (corporate accounts run to 30).
_NUMBER = re.compile(rf"[0-9]{{{MIN_LENGTH - 1},29}}[0-9X]")
_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def compact(value: str) -> str:
    """Digits as ASCII, no separators, X upper-case: the form numbers are compared in."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()


def mask(value: str) -> str:
    return "*" * (len(value) - 4) + value[-4:]


def _id_check_character(body: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _has_check_character(number: str) -> bool:
    if _RESIDENT_ID.fullmatch(number) and _id_check_character(number[:17]) == number[17]:
        return True
    return number.isdigit() and 16 <= len(number) <= 19 and _luhn_valid(number)


def kind_of(number: str) -> str:
    if _RESIDENT_ID.fullmatch(number) and (
        number.endswith("X") or _id_check_character(number[:17]) == number[17]
    ):
        return "ID number"
    return "account number"


@dataclass(frozen=True)
class Finding:
    """A planted number seen where it must not be. Holds it masked only."""

    masked: str
    kind: str
    logger: str
    level: str
    where: str  # "message", "traceback", "extra 'request'", "error report", "worker log …"
    test: str
    excerpt: str
    late: bool = False  # planted only after it was logged

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.masked} in the {self.where} of a log record ({self.level}, "
            f"logger {self.logger!r}) during {self.test or 'no test'}: {self.excerpt}"
        )


@dataclass
class Watch:
    """What the guard saw while a ``watching()`` block ran."""

    records: int = 0
    error_reports: int = 0
    loggers: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


class GuardHandler(logging.Handler):
    def __init__(self, guard: PIIGuard):
        super().__init__(level=logging.NOTSET)
        self.guard = guard

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.guard.inspect(record)
        except Exception as exc:  # never break the code under test; say so at the end
            self.guard.problems[f"{type(exc).__name__}: {exc}"] += 1


class PIIGuard:
    def __init__(self) -> None:
        self._numbers: dict[str, str] = {}  # search key -> the planted number it stands for
        self._lengths: tuple[int, ...] = ()
        self._lock = threading.Lock()
        self._candidates: dict[str, tuple] = {}
        self._watches: list[Watch] = []
        self._formatter = logging.Formatter()
        self.handler = GuardHandler(self)
        self.findings: list[Finding] = []
        self.problems: Counter[str] = Counter()
        self.current_test = ""
        self.records = 0
        self.error_reports = 0
        self.files = 0
        self.seconds = 0.0

    # -- what to look for -----------------------------------------------------------------

    def plant(self, value: str) -> str:
        """Look for ``value`` (an ID or account number the tests use) from now on and in
        what was logged before. Returns it unchanged."""
        number = compact(value)
        if len(number) < MIN_LENGTH:
            raise ValueError(
                f"{len(number)} characters: too short to search for without false alarms"
            )
        with self._lock:
            if number in self._numbers:
                return value
            self._numbers[number] = number
            if _has_check_character(number):
                self._numbers.setdefault(number[:-1], number)
            self._lengths = tuple(sorted({len(key) for key in self._numbers}, reverse=True))
        return value

    @property
    def planted(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._numbers.values())

    def plant_source_literals(self, root: Path = TESTS_DIR) -> int:
        count = 0
        for path in sorted(root.rglob("*.py")):
            for match in _SOURCE_LITERAL.finditer(path.read_text(encoding="utf-8")):
                self.plant(match.group(1))
                count += 1
        return count

    # -- searching ------------------------------------------------------------------------

    def search(self, text: str, *, context: tuple | None = None) -> list[tuple[str, str]]:
        """The planted numbers in ``text``: (number, the text around it) pairs. Runs that
        match nothing are remembered with ``context`` for ``recheck()``."""
        if not text:
            return []
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        found = []
        for match in _RUN.finditer(text):
            run = _SEPARATORS.sub("", match.group()).upper()
            number = self._lookup(run)
            if number:
                found.append((number, _excerpt(text, match)))
            elif context is not None and run not in self._candidates:
                self._remember(run, (*context, _excerpt(text, match)))
        return found

    def _lookup(self, run: str) -> str | None:
        numbers, size = self._numbers, len(run)
        for length in self._lengths:  # longest first: the whole number, not a part of it
            if length > size:
                continue
            for start in range(size - length + 1):
                number = numbers.get(run[start : start + length])
                if number:
                    return number
        return None

    def _remember(self, run: str, context: tuple) -> None:
        if len(self._candidates) >= MAX_CANDIDATES:
            self._candidates.pop(next(iter(self._candidates)))
        self._candidates[run] = context

    def redact(self, text: str) -> str:
        """``text`` with every planted number masked, for reports."""

        def masked(match: re.Match) -> str:
            run = match.group()
            if self._lookup(_SEPARATORS.sub("", run).upper()):
                return mask(_SEPARATORS.sub("", run))
            return run

        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        return _RUN.sub(masked, text)

    # -- log records ----------------------------------------------------------------------

    def inspect(self, record: logging.LogRecord) -> None:
        started = time.perf_counter()
        level = record.levelname
        for where, text in self._texts(record):
            context = (record.name, level, where, self.current_test)
            reported = set()
            for number, excerpt in self.search(text, context=context):
                if number not in reported:  # once per number and part of the record
                    reported.add(number)
                    self._found(number, record.name, level, where, excerpt)
        self.records += 1
        for watch in self._watches:
            watch.records += 1
            watch.loggers.add(record.name)
        self.seconds += time.perf_counter() - started

    def _texts(self, record: logging.LogRecord):
        try:
            yield "message", record.getMessage()
        except Exception:  # a bad format string: what a formatter would choke on
            yield "message", f"{record.msg!r} % {record.args!r}"
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted here, not cached on the record: another handler's formatter may
            # format exceptions its own way.
            yield "traceback", self._formatter.formatException(record.exc_info)
        elif record.exc_text:
            yield "traceback", record.exc_text
        if record.stack_info:
            yield "stack", record.stack_info
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES:
                yield f"extra {name!r}", value if isinstance(value, str) else _repr(value)
        if record.levelno >= logging.ERROR and _is_request(getattr(record, "request", None)):
            yield from self._error_reports(record)

    def _error_reports(self, record: logging.LogRecord):
        """The report AdminEmailHandler would mail for this record (the HTML one too when a
        handler on the way is set to include it)."""
        from django.conf import settings
        from django.utils.module_loading import import_string

        exc_info = record.exc_info or (None, record.getMessage(), None)
        reporter = import_string(settings.DEFAULT_EXCEPTION_REPORTER)(
            record.request, *exc_info, is_email=True
        )
        self.error_reports += 1
        for watch in self._watches:
            watch.error_reports += 1
        yield "error report", reporter.get_traceback_text()
        if _mails_html(record.name):
            yield "error report (HTML)", reporter.get_traceback_html()

    def _found(self, number, logger, level, where, excerpt, *, late=False) -> None:
        finding = Finding(
            masked=mask(number),
            kind=kind_of(number),
            logger=logger,
            level=level,
            where=where,
            test=self.current_test,
            excerpt=self.redact(excerpt),
            late=late,
        )
        self.findings.append(finding)
        for watch in self._watches:
            watch.findings.append(finding)

    def scan_file(self, path: Path, *, where: str) -> None:
        """A log written by another process: each line as a record of logger ``where``."""
        text = path.read_text(encoding="utf-8", errors="replace")
        with self.handler.lock:  # a live server thread may be logging meanwhile
            context = (where, "-", "log file", self.current_test)
            for number, excerpt in self.search(text, context=context):
                self._found(number, where, "-", "log file", excerpt)

    def recheck(self) -> None:
        """Look again at every remembered run, with everything planted since."""
        for run, (logger, level, where, test, excerpt) in list(self._candidates.items()):
            number = self._lookup(run)
            if number:
                self.findings.append(
                    Finding(
                        masked=mask(number),
                        kind=kind_of(number),
                        logger=logger,
                        level=level,
                        where=where,
                        test=test,
                        excerpt=self.redact(excerpt),
                        late=True,
                    )
                )
                del self._candidates[run]

    # -- pytest-xdist: from the workers to the controller ----------------------------------

    def worker_output(self) -> dict:
        """What a worker hands the controller at its end: plain values execnet can carry."""
        with self._lock:
            planted = sorted(set(self._numbers.values()))
        return {
            "planted": planted,
            "candidates": [[run, *context] for run, context in self._candidates.items()],
            "findings": [asdict(finding) for finding in self.findings],
            "problems": dict(self.problems),
            "records": self.records,
            "error_reports": self.error_reports,
            "files": self.files,
            "seconds": self.seconds,
        }

    def merge(self, output: dict) -> None:
        """Take in what a worker saw (``worker_output()``); ``recheck()`` then looks at its
        unmatched runs with every worker's planted numbers."""
        for number in output["planted"]:
            self.plant(number)
        for run, *context in output["candidates"]:
            if run not in self._candidates:
                self._remember(run, tuple(context))
        self.findings.extend(Finding(**finding) for finding in output["findings"])
        self.problems.update(output["problems"])
        self.records += output["records"]
        self.error_reports += output["error_reports"]
        self.files += output["files"]
        self.seconds += output["seconds"]

    # -- coverage -------------------------------------------------------------------------

    def install(self) -> None:
        """On the root logger and on every logger that stops propagation (idempotent; run
        before each test, since logging may have been configured again)."""
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)
        for logger in list(logging.Logger.manager.loggerDict.values()):
            if not isinstance(logger, logging.Logger):
                continue
            attached = self.handler in logger.handlers
            if not logger.propagate and not attached:
                logger.addHandler(self.handler)
            elif logger.propagate and attached:  # would see the record twice
                logger.removeHandler(self.handler)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self.handler)
        for logger in list(logging.Logger.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger):
                logger.removeHandler(self.handler)

    # -- the report -----------------------------------------------------------------------

    def report_lines(self, limit: int = 40) -> list[str]:
        groups = Counter(
            (f.kind, f.masked, f.logger, f.level, f.where, f.late) for f in self.findings
        )
        first = {}
        for f in self.findings:
            first.setdefault((f.kind, f.masked, f.logger, f.level, f.where, f.late), f)
        lines = []
        for key, count in groups.most_common(limit):
            f = first[key]
            lines.append(
                f"{f.kind} {f.masked} in the {f.where} of {count} {f.level} record(s) of "
                f"logger {f.logger!r}{' (planted after it was logged)' if f.late else ''}"
            )
            lines.append(f"    first during: {f.test or '(outside any test)'}")
            lines.append(f"    {f.excerpt}")
        if len(groups) > limit:
            lines.append(f"... and {len(groups) - limit} more")
        return lines


def _excerpt(text: str, match: re.Match, width: int = 160) -> str:
    position = match.start()
    start = max(0, position - width)
    excerpt = " ".join(text[start : position + width].split())
    return ("…" if start else "") + excerpt + ("…" if position + width < len(text) else "")


def _repr(value) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {exc}>"


def _is_request(value) -> bool:
    if value is None:
        return False
    from django.http import HttpRequest

    return isinstance(value, HttpRequest)


def _mails_html(name: str) -> bool:
    from django.utils.log import AdminEmailHandler

    logger = logging.getLogger(name)
    while logger:
        for handler in logger.handlers:
            if isinstance(handler, AdminEmailHandler) and handler.include_html:
                return True
        logger = logger.parent if logger.propagate else None
    return False


GUARD = PIIGuard()
plant = GUARD.plant


@contextmanager
def watching():
    """Collect what the session's guard sees inside the block (its findings count for the
    session too)."""
    watch = Watch()
    GUARD._watches.append(watch)
    try:
        yield watch
    finally:
        GUARD._watches.remove(watch)


def _plant_at_the_sources() -> None:
    """Every number the test data is made of comes from the demo's two generators, and every
    number the portal keeps goes through encryption: both plant what passes through them."""
    from core import pii
    from portal import demo

    def planting_result(function):
        @functools.wraps(function)
        def planting(*args, **kwargs):
            return plant(function(*args, **kwargs))

        planting.plants_pii = True
        return planting

    def planting_argument(function):
        @functools.wraps(function)
        def planting(value, *args, **kwargs):
            if isinstance(value, str) and _NUMBER.fullmatch(compact(value)):
                plant(value)
            return function(value, *args, **kwargs)

        planting.plants_pii = True
        return planting

    for module, name, wrap in (
        (demo, "resident_id", planting_result),
        (demo, "card_number", planting_result),
        (pii, "encrypt", planting_argument),
    ):
        function = getattr(module, name)
        if not getattr(function, "plants_pii", False):
            setattr(module, name, wrap(function))
    for applicant in demo.APPLICANTS:  # made when portal.demo was imported
        plant(applicant.card)


# -- pytest hooks -------------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # trylast: after pytest-django has set Django up. Test modules call the generators at
    # import, so this must come before collection.
    GUARD.plant_source_literals()
    try:
        _plant_at_the_sources()
    except Exception as exc:  # Django not set up (pytest --help, a run without settings)
        GUARD.problems[f"numbers not planted from portal.demo and core.pii: {exc}"] += 1


def pytest_sessionstart(session):
    GUARD.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid, location):
    GUARD.current_test = nodeid


def pytest_runtest_logfinish(nodeid, location):
    GUARD.current_test = ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    started = time.perf_counter()
    GUARD.install()
    GUARD.seconds += time.perf_counter() - started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # Real worker and beat processes (the start_celery fixture) log to files in tmp_path;
    # they are complete once the fixture has stopped the processes.
    tmp_path = None
    if "start_celery" in getattr(item, "fixturenames", ()):
        tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    try:
        return (yield)
    finally:
        started = time.perf_counter()
        for log in sorted(tmp_path.glob("celery-*.log")) if tmp_path else ():
            GUARD.scan_file(log, where=f"worker log {log.name}")
            GUARD.files += 1
        GUARD.seconds += time.perf_counter() - started


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # pytest-xdist, on the controller: a worker finished and handed over what its guard saw.
    output = getattr(node, "workeroutput", {}).get("pii_guard")
    if output is not None:
        GUARD.merge(output)
    elif error is None:
        GUARD.problems[f"worker {node.gateway.id} handed over nothing to check"] += 1


def pytest_sessionfinish(session, exitstatus):
    GUARD.recheck()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A pytest-xdist worker: its exit status and summary go nowhere; the controller
        # reports for it and fails the run (pytest_testnodedown).
        workeroutput["pii_guard"] = GUARD.worker_output()
        return
    if GUARD.findings and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    if GUARD.findings:
        tr.section(
            f"PII guard: full numbers in logs or error reports ({len(GUARD.findings)})",
            sep="!",
            red=True,
            bold=True,
        )
        for line in GUARD.report_lines():
            tr.line(line, red=line.startswith(("ID", "account")))
    for problem, count in GUARD.problems.items():
        tr.line(f"PII guard problem ({count}×): {problem}", yellow=True)
    if GUARD.records or GUARD.findings:
        tr.line(
            f"PII guard: {GUARD.records} log records, {GUARD.error_reports} error reports and "
            f"{GUARD.files} worker logs checked for {len(GUARD.planted)} planted numbers in "
            f"{GUARD.seconds:.2f}s"
        )
