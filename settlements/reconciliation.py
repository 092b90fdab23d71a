"""Importing an acquirer's daily reconciliation file (ACQUIRER_API.md) and matching it against
the ledger, leaving ``Discrepancy`` rows for finance to clear.

``reconciliation_start`` stores the file and creates a run, once per file: the same bytes
imported again find the first run (a failed one is tried again; ``force`` replaces a done
one). A background job (core/jobs.py, kind ``settlements.reconciliation`` in
settlements/jobs.py) runs ``reconciliation_process``, which streams the stored file into
``ReconciliationLine`` staging rows (COPY on PostgreSQL, bulk inserts elsewhere) and matches
them against ``Transaction`` in a few set-based queries.

Decisions, for whoever changes this:

- **Memory** is bounded by ``RECONCILIATION_BATCH_SIZE`` whatever the file's size: lines are
  read one at a time (at most ``MAX_LINE_CHARS`` each, so a file with no line breaks cannot
  fill the memory either), written per batch, and results are read back through server-side
  cursors. Duplicate transaction IDs are therefore found in SQL after staging, not with a set
  of every ID seen; the first well-formed occurrence is kept and later ones are malformed.
- **One transaction per attempt.** Loading and matching run in one transaction that holds the
  run's row lock: a worker killed half-way leaves nothing behind (its transaction rolls back),
  and a second worker given the same run waits for the lock, then finds it done. The job
  counts the attempts and leases the work to one worker at a time; a worker killed half-way
  is noticed when its lease runs out, and the job is run again, or given up after its
  attempts with the run failed. (On SQLite the import holds the database's write lock for its
  duration; SQLite is the one-machine development default.)
- **Signs.** Amounts are staged in the portal's signed convention (``settlements.models``):
  sales positive, refunds, voids and reversals negative, fees with them. A sale line must
  have a positive amount, a fee of at least zero and ``net = amount − fee``. Acquirers write
  refunds, voids and reversals either signed (−100.00, −0.38, −99.62) or as magnitudes
  (100.00, 0.38, 99.62), so such a line is accepted when ``|net| = |amount| − |fee|``, and
  staged as ``amount = −|amount|``, ``fee = −|fee|``. ``ours``/``theirs`` on a discrepancy
  are both in the signed convention, so they compare at a glance.
- **Which fee.** A line's fee is compared with ``Transaction.fee``, the fee the merchant's
  contract gives, which is what the portal's payouts and the merchant's dashboard are built
  from: any difference means the money that reaches the merchant is not what the portal
  says, and that is what finance has to chase (claim it back from the acquirer, or refund
  the merchant). ``Transaction.acquirer_fee``, what the acquirer reported when the
  transaction was recorded, is quoted in the detail: equal to the file's fee, the difference
  was already known then (``fee_mismatch``); different, the acquirer has since changed its
  figure. A file fee that equals the contract fee while the earlier report differed is not a
  discrepancy: the money agrees with the ledger.
- **Amount and fee** both differing on one line give two discrepancies, one of each kind.
- **Declined.** A line for a transaction the portal holds as declined is MISSING_HERE (the
  portal holds no settled transaction for it), with the transaction linked.
- **Malformed lines** keep the transaction ID when their first column is one; such a
  transaction is not reported MISSING_THERE as well: it is in the file, only unreadable.
  Empty lines between lines are malformed; empty lines at the end of the file are ignored.
- **Details** are written like ``AcquirerDataError``'s messages, in English, as
  ``field: what is wrong`` quoting the value; the kind, line number and values carry the
  meaning for staff in their own language.
"""

import csv
import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Window
from django.db.models.functions import FirstValue
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs, transitions
from core.transitions import TransitionNotAllowed, transition
from settlements.acquirer_data import (
    DIGITS,
    ID_RE,
    MID_RE,
    TID_RE,
    AcquirerDataError,
    parse_amount,
    parse_choice,
    parse_pattern,
    parse_time,
)
from settlements.models import (
    Channel,
    Discrepancy,
    ReconciliationLine,
    ReconciliationRun,
    Transaction,
)

logger = logging.getLogger(__name__)

COLUMNS = (
    "transaction_id",
    "merchant_id",
    "terminal_id",
    "type",
    "channel",
    "amount",
    "fee",
    "net",
    "rrn",
    "trace_no",
    "occurred_at",
    "payout_id",
)
STAGED_COLUMNS = ("run_id", "line_no", *COLUMNS)
# A real line is about 160 characters; anything near this is garbage, and reading it whole
# could take any amount of memory.
MAX_LINE_CHARS = 4096
# The task gives up on a run after this many attempts (each one counted before it starts).
# The kind of background job that imports a run (settlements/jobs.py).
JOB_KIND = "settlements.reconciliation"
READ_CHUNK = 64 * 1024
ZERO = Decimal("0.00")
FEN = Decimal("0.01")
# 2026-11-26 or 20261126, not part of a longer number (a MID in the name must not match).
DATE_IN_NAME_RE = re.compile(r"(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)")
UNDECODED_RE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
# Django builds a choices' ``values`` list anew at every access; this runs once per line.
TYPES = tuple(Transaction.Type.values)
CHANNELS = tuple(Channel.values)

Kind = Discrepancy.Kind
Status = ReconciliationRun.Status


# -- Starting a run -----------------------------------------------------------------------------


def reconciliation_start(
    *,
    source,
    file_name: str,
    settlement_date: date | None = None,
    acquirer: str | None = None,
    user=None,
    force: bool = False,
) -> tuple[ReconciliationRun, bool]:
    """Store a reconciliation file and create a pending run for it, imported by a background
    job once the transaction commits; returns (run, created).

    ``source`` is a binary file object or a filesystem path. ``settlement_date`` defaults to
    the date in ``file_name`` (YYYY-MM-DD or YYYYMMDD); with neither, ``ValidationError``.
    Safe to repeat: a file whose SHA-256 this acquirer already has returns that run and
    changes nothing, also when two imports of it race; if that run failed, it is imported
    again as a new attempt. With ``force``, a run that is done is superseded by a new one.
    """
    acquirer = acquirer or settings.ACQUIRER_CODE
    file_name = os.path.basename(file_name)[:255]
    storage = storages["private"]
    with _rewindable(source) as stream:
        sha256 = _sha256(stream)
        existing = ReconciliationRun.objects.current().filter(acquirer=acquirer, sha256=sha256)
        existing = existing.first()
        if existing is not None and existing.status == Status.FAILED:
            return reconciliation_retry(run=existing, actor=user), False
        if existing is not None and not (force and existing.status == Status.DONE):
            return existing, False
        settlement_date = settlement_date or _date_in_name(file_name)
        stored_file = storage.save(f"reconciliation/{secrets.token_hex(16)}.csv", File(stream))
    try:
        with transaction.atomic():
            if existing is not None:
                transition(existing, Status.SUPERSEDED, actor=user, reason="imported again")
            run = ReconciliationRun.objects.create(
                acquirer=acquirer,
                settlement_date=settlement_date,
                file_name=file_name,
                stored_file=stored_file,
                sha256=sha256,
                created_by=user,
            )
            transitions.event_record(run, from_status="", actor=user)
            jobs.job_start(kind=JOB_KIND, subject=run, actor=user)
    except (IntegrityError, TransitionNotAllowed):
        # The same file, started a moment ago by someone else: theirs is the run.
        storage.delete(stored_file)
        run = ReconciliationRun.objects.current().get(acquirer=acquirer, sha256=sha256)
        return run, False
    logger.info("Reconciliation run %s created for %s (%s)", run.pk, file_name, settlement_date)
    return run, True


@contextmanager
def _rewindable(source):
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    elif getattr(source, "seekable", lambda: False)():
        yield source
    else:
        # A pipe or a download: hashing and storing both read it from the start.
        with tempfile.TemporaryFile() as copy:
            shutil.copyfileobj(source, copy, READ_CHUNK)
            yield copy


def _sha256(stream) -> str:
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(READ_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _date_in_name(file_name: str) -> date:
    for match in DATE_IN_NAME_RE.finditer(file_name):
        year, _sep, month, day = match.groups()
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            continue
    raise ValidationError(
        _(
            "Give the settlement date: the file name “%(name)s” contains no date like "
            "2026-11-26 or 20261126."
        )
        % {"name": file_name},
        code="settlement_date",
    )


# -- Processing a run ---------------------------------------------------------------------------


def reconciliation_retry(*, run: ReconciliationRun, actor=None) -> ReconciliationRun:
    """Import a failed run again, as a new attempt with a fresh set of tries (staff in the
    admin, ``import_reconciliation --retry``, or the same file imported again). Safe to
    repeat: a run already queued or being imported is left as it is."""
    if run.status != Status.FAILED:
        raise TransitionNotAllowed(
            model=ReconciliationRun, current=run.status, target=Status.LOADING
        )
    if not run.stored_file:
        raise ValidationError(
            _("The file of this run is no longer stored: import the file again."),
            code="no_file",
        )
    with transaction.atomic():
        if jobs.open_job(kind=JOB_KIND, subject=run) is None:
            job = jobs.latest_job(kind=JOB_KIND, subject=run)
            if job is not None and job.status == job.Status.FAILED:
                jobs.job_retry(job=job, actor=actor)
            else:
                jobs.job_start(kind=JOB_KIND, subject=run, actor=actor)
    return run


def reconciliation_failed(run: ReconciliationRun, reason: str) -> None:
    """The job gave up on the run (its workers kept being lost): the run says so. Safe to
    repeat."""
    run.refresh_from_db()
    if run.status not in (Status.DONE, Status.FAILED, Status.SUPERSEDED):
        _fail(run, _("Gave up: %(reason)s.") % {"reason": reason})


def reconciliation_process(*, run_id: int) -> ReconciliationRun:
    """Load a run's file into staging rows, match them against the ledger and record the
    discrepancies and counts; the run ends DONE, or FAILED with ``error`` set.

    Safe to repeat and to kill half-way: a DONE run is returned untouched; any other run is
    redone from the start (its staging rows and discrepancies deleted first) and its
    ``attempts`` incremented. Once DONE, the staging rows and the stored file are deleted.
    """
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
        if run.status in (Status.DONE, Status.SUPERSEDED):
            return run
        transition(
            run,
            Status.LOADING,
            reason=f"attempt {run.attempts + 1}",
            updates={"attempts": F("attempts") + 1},
        )
    try:
        with transaction.atomic():
            run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
            if run.status == Status.DONE:  # another worker finished it while this one waited
                return run
            stored_file = run.stored_file
            _load_and_match(run)
    except Exception as exc:
        logger.exception("Reconciliation run %s stopped", run_id)
        run = ReconciliationRun.objects.get(pk=run_id)
        _fail(run, _("The import stopped: %(error)s") % {"error": exc})
        raise
    if run.status == Status.DONE and stored_file:
        # Only after the commit: a rolled-back attempt must still find its file.
        storages["private"].delete(stored_file)
    return run


def _fail(run: ReconciliationRun, message: str) -> ReconciliationRun:
    logger.warning("Reconciliation run %s failed: %s", run.pk, message)
    transition(
        run,
        Status.FAILED,
        reason=message,
        updates={"error": message, "finished_at": timezone.now()},
    )
    return run


def _load_and_match(run: ReconciliationRun) -> None:
    Discrepancy.objects.filter(run=run).delete()
    ReconciliationLine.objects.filter(run=run).delete()
    run.error, run.finished_at = "", None
    run.line_count = run.matched_count = run.discrepancy_count = run.malformed_count = 0
    run.save(
        update_fields=[
            "error",
            "finished_at",
            "line_count",
            "matched_count",
            "discrepancy_count",
            "malformed_count",
        ]
    )
    if not run.stored_file:
        _fail(run, _("The run has no stored file to import."))
        return
    try:
        stored = storages["private"].open(run.stored_file, "rb")
    except OSError as exc:
        message = _("The stored file “%(name)s” cannot be read: %(error)s")
        _fail(run, message % {"name": run.stored_file, "error": exc.strerror or exc})
        return
    batch_size = settings.RECONCILIATION_BATCH_SIZE
    with io.TextIOWrapper(
        stored, encoding="utf-8-sig", errors="surrogateescape", newline=""
    ) as text:
        lines = _numbered_lines(text)
        problem = _header_problem(next(lines, None))
        if problem:
            _fail(run, problem)
            return
        run.line_count, malformed = _load(run, lines, batch_size)
    malformed += _flag_duplicates(run, batch_size)
    run.save(update_fields=["line_count"])
    transition(run, Status.MATCHING)

    counts = Counter({Kind.MALFORMED: malformed})
    staged = ReconciliationLine.objects.filter(run=run).count()
    mismatched = _match_lines(run, batch_size, counts)
    counts[Kind.MISSING_THERE] = _match_missing_there(run, batch_size)
    ReconciliationLine.objects.filter(run=run).delete()

    transition(
        run,
        Status.DONE,
        updates={
            "matched_count": staged - mismatched,
            "malformed_count": counts[Kind.MALFORMED],
            "discrepancy_count": sum(counts.values()),
            "finished_at": timezone.now(),
            "stored_file": "",
        },
    )
    logger.info(
        "Reconciliation run %s done: %s lines, %s matched, %s",
        run.pk,
        run.line_count,
        run.matched_count,
        {str(kind): count for kind, count in counts.items()},
    )


# -- Loading ------------------------------------------------------------------------------------


def _numbered_lines(text) -> Iterator[tuple[int, str | None]]:
    """(line number, line without its line break) for each line; None for a line longer
    than ``MAX_LINE_CHARS``, whose rest is skipped without holding it."""
    line_no = 0
    while line := text.readline(MAX_LINE_CHARS):
        line_no += 1
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            while (rest := text.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                pass
            yield line_no, None
        else:
            yield line_no, line.rstrip("\r\n")


def _header_problem(first: tuple[int, str | None] | None) -> str:
    if first is None:
        return _("The file is empty: it has no header row.")
    header = first[1]
    if header is None or UNDECODED_RE.search(header) or "\x00" in header:
        return _("The file is not UTF-8 text.")
    if [name.strip().lower() for name in _split(header)] != list(COLUMNS):
        return _("The first line must be the header “%(expected)s”, not “%(found)s”.") % {
            "expected": ",".join(COLUMNS),
            "found": header[:200],
        }
    return ""


def _split(line: str) -> list[str]:
    # The columns never need quoting; a quote means a writer that quotes anyway.
    return next(csv.reader([line])) if '"' in line else line.split(",")


def _parsed_lines(lines) -> Iterator[tuple[int, tuple | None, AcquirerDataError | None, str]]:
    """(line number, staged values or None, error or None, transaction ID if readable) for
    every data line."""
    blank_from = None
    for line_no, line in lines:
        if line is not None and not line.strip():
            blank_from = blank_from or line_no
            continue
        if blank_from:
            # Blank lines followed by more lines are holes in the file; at its end, padding.
            for blank_no in range(blank_from, line_no):
                yield blank_no, None, AcquirerDataError("line", "empty line"), ""
            blank_from = None
        if line is None:
            error = AcquirerDataError("line", f"longer than {MAX_LINE_CHARS} characters")
            yield line_no, None, error, ""
            continue
        try:
            fields = _split(line)
        except csv.Error as exc:
            yield line_no, None, AcquirerDataError("line", str(exc)), ""
            continue
        first = fields[0].strip() if fields else ""
        transaction_id = first if ID_RE.match(first) else ""
        if not line.isascii() and UNDECODED_RE.search(line):
            error = AcquirerDataError("line", f"not UTF-8 text: {line[:80]!r}")
            yield line_no, None, error, transaction_id
            continue
        try:
            values = _line_values(fields)
        except AcquirerDataError as error:
            if len(fields) != len(COLUMNS):
                transaction_id = ""  # the first column may be anything
            yield line_no, None, error, transaction_id
            continue
        yield line_no, values, None, transaction_id


def _line_values(fields: list[str]) -> tuple:
    if len(fields) != len(COLUMNS):
        raise AcquirerDataError("line", f"{len(fields)} columns instead of {len(COLUMNS)}")
    txn_id, mid, tid, kind, channel, amount, fee, net, rrn, trace_no, occurred_at, payout_id = (
        fields
    )
    txn_id = parse_pattern(txn_id, "transaction_id", ID_RE, "a transaction ID")
    mid = parse_pattern(mid, "merchant_id", MID_RE, "a 15-digit MID")
    tid = parse_pattern(tid, "terminal_id", TID_RE, "an 8-digit TID")
    kind = parse_choice(kind, "type", TYPES)
    channel = parse_choice(channel, "channel", CHANNELS)
    amount = parse_amount(amount, "amount")
    fee = parse_amount(fee, "fee")
    net = parse_amount(net, "net")
    if amount == 0:
        raise AcquirerDataError("amount", "a transaction of ¥0.00 is not a transaction")
    if kind == Transaction.Type.SALE:
        if amount < 0:
            raise AcquirerDataError("amount", f"a sale cannot be negative: {amount}")
        if fee < 0:
            raise AcquirerDataError("fee", f"a sale's fee cannot be negative: {fee}")
        if net != amount - fee:
            raise AcquirerDataError("net", f"{net} is not amount − fee = {amount - fee}")
    else:
        if abs(net) != abs(amount) - abs(fee):
            expected = abs(amount) - abs(fee)
            raise AcquirerDataError("net", f"|{net}| is not |amount| − |fee| = {expected}")
        amount, fee = -abs(amount), (-abs(fee) if fee else ZERO)
        net = amount - fee
    return (
        txn_id,
        mid,
        tid,
        kind,
        channel,
        amount,
        fee,
        net,
        parse_pattern(rrn, "rrn", DIGITS[12], "a 12-digit reference", required=False),
        parse_pattern(trace_no, "trace_no", DIGITS[6], "a 6-digit voucher number", required=False),
        parse_time(occurred_at, "occurred_at"),
        parse_pattern(payout_id, "payout_id", ID_RE, "a payout ID", required=False),
    )


def _load(run: ReconciliationRun, lines, batch_size: int) -> tuple[int, int]:
    """Stage the well-formed lines and record the malformed ones, a batch at a time;
    returns (data lines, malformed lines)."""
    rows: list[tuple] = []
    malformed: list[Discrepancy] = []
    line_count = malformed_count = 0
    for line_no, values, error, transaction_id in _parsed_lines(lines):
        line_count = line_no - 1  # the header is line 1
        if values is None:
            malformed.append(
                Discrepancy(
                    run=run,
                    kind=Kind.MALFORMED,
                    line_no=line_no,
                    acquirer_transaction_id=transaction_id,
                    detail=str(error),
                )
            )
        else:
            rows.append((run.pk, line_no, *values))
        if len(rows) + len(malformed) >= batch_size:
            malformed_count += len(malformed)
            _write_batch(rows, malformed)
            rows, malformed = [], []
    malformed_count += len(malformed)
    _write_batch(rows, malformed)
    return line_count, malformed_count


def _write_batch(rows: list[tuple], malformed: list[Discrepancy]) -> None:
    if rows:
        if connection.vendor == "postgresql":
            _copy_rows(rows)
        else:
            ReconciliationLine.objects.bulk_create(
                [ReconciliationLine(**dict(zip(STAGED_COLUMNS, row, strict=True))) for row in rows]
            )
    if malformed:
        Discrepancy.objects.bulk_create(malformed)


def _copy_rows(rows: list[tuple]) -> None:
    # COPY is several times faster than INSERT for millions of rows; it goes through the
    # Django connection's own psycopg connection, so it is part of the run's transaction.
    table = connection.ops.quote_name(ReconciliationLine._meta.db_table)
    sql = f"COPY {table} ({', '.join(STAGED_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _flag_duplicates(run: ReconciliationRun, batch_size: int) -> int:
    """Turn every staged line whose transaction ID an earlier staged line has into a
    malformed line; returns how many."""
    lines = ReconciliationLine.objects.filter(run=run)
    repeated = (
        lines.annotate(
            first_line_no=Window(
                FirstValue("line_no"), partition_by=[F("transaction_id")], order_by="line_no"
            )
        )
        .filter(line_no__gt=F("first_line_no"))
        .values_list("line_no", "transaction_id", "first_line_no")
    )
    count = 0
    for chunk in _chunked(repeated.iterator(chunk_size=batch_size), batch_size):
        Discrepancy.objects.bulk_create(
            Discrepancy(
                run=run,
                kind=Kind.MALFORMED,
                line_no=line_no,
                acquirer_transaction_id=transaction_id,
                detail=f"transaction_id: duplicate of line {first_line_no}",
            )
            for line_no, transaction_id, first_line_no in chunk
        )
        count += len(chunk)
    if count:
        lines.filter(
            line_no__in=Discrepancy.objects.filter(run=run, kind=Kind.MALFORMED).values("line_no")
        ).delete()
    return count


def _chunked(iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- Matching -----------------------------------------------------------------------------------

# Only the lines that do not match come back to Python. A join rather than the ORM's
# correlated subqueries: one hash join instead of several index probes per line.
MISMATCHED_SQL = """
SELECT l.line_no, l.transaction_id, l.amount, l.fee,
       t.id, t.status, t.amount, t.fee, t.acquirer_fee
FROM {lines} l
LEFT JOIN {transactions} t ON t.acquirer = %s AND t.acquirer_id = l.transaction_id
WHERE l.run_id = %s
  AND (t.id IS NULL OR t.status <> %s OR t.amount <> l.amount OR t.fee <> l.fee)
"""


def _money(value) -> Decimal:
    # SQLite hands raw decimals back as int or float; both hold two places exactly enough.
    return Decimal(str(value)).quantize(FEN)


def _match_lines(run: ReconciliationRun, batch_size: int, counts: Counter) -> int:
    """Record MISSING_HERE, AMOUNT and FEE discrepancies; returns how many lines differ."""
    sql = MISMATCHED_SQL.format(
        lines=connection.ops.quote_name(ReconciliationLine._meta.db_table),
        transactions=connection.ops.quote_name(Transaction._meta.db_table),
    )
    mismatched = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [run.acquirer, run.pk, Transaction.Status.APPROVED])
        while rows := cursor.fetchmany(batch_size):
            found = []
            for line_no, txn_id, amount, fee, pk, status, our_amount, our_fee, acq_fee in rows:
                amount, fee = _money(amount), _money(fee)
                common = {"run": run, "line_no": line_no, "acquirer_transaction_id": txn_id}
                if pk is None:
                    found.append(
                        Discrepancy(
                            kind=Kind.MISSING_HERE,
                            theirs=str(amount),
                            detail="transaction_id: no transaction with this ID in the portal",
                            **common,
                        )
                    )
                    continue
                if status != Transaction.Status.APPROVED:
                    found.append(
                        Discrepancy(
                            kind=Kind.MISSING_HERE,
                            transaction_id=pk,
                            theirs=str(amount),
                            detail=f"status: the portal has this transaction as {status}",
                            **common,
                        )
                    )
                    continue
                our_amount, our_fee, acq_fee = _money(our_amount), _money(our_fee), _money(acq_fee)
                if our_amount != amount:
                    found.append(
                        Discrepancy(
                            kind=Kind.AMOUNT,
                            transaction_id=pk,
                            ours=str(our_amount),
                            theirs=str(amount),
                            detail=f"amount: the portal has {our_amount}, the file {amount}",
                            **common,
                        )
                    )
                if our_fee != fee:
                    reported = (
                        "as the acquirer reported when the transaction was recorded"
                        if acq_fee == fee
                        else f"the acquirer reported {acq_fee} when the transaction was recorded"
                    )
                    found.append(
                        Discrepancy(
                            kind=Kind.FEE,
                            transaction_id=pk,
                            ours=str(our_fee),
                            theirs=str(fee),
                            detail=(
                                f"fee: the merchant's fee schedule gives {our_fee}, the file "
                                f"{fee}; {reported}"
                            ),
                            **common,
                        )
                    )
            Discrepancy.objects.bulk_create(found)
            counts.update(discrepancy.kind for discrepancy in found)
            mismatched += len(rows)
    return mismatched


def _match_missing_there(run: ReconciliationRun, batch_size: int) -> int:
    """Record the approved transactions of the run's settlement date that the file lacks;
    returns how many."""
    in_file = ReconciliationLine.objects.filter(run=run, transaction_id=OuterRef("acquirer_id"))
    unreadable = Discrepancy.objects.filter(
        run=run, kind=Kind.MALFORMED, acquirer_transaction_id=OuterRef("acquirer_id")
    )
    missing = (
        Transaction.objects.approved()
        .filter(acquirer=run.acquirer, settlement_date=run.settlement_date)
        .exclude(Exists(in_file))
        .exclude(Exists(unreadable))
        .order_by()
        .values_list("pk", "acquirer_id", "amount")
    )
    count = 0
    for chunk in _chunked(missing.iterator(chunk_size=batch_size), batch_size):
        Discrepancy.objects.bulk_create(
            Discrepancy(
                run=run,
                kind=Kind.MISSING_THERE,
                acquirer_transaction_id=acquirer_id,
                transaction_id=pk,
                ours=str(amount),
                detail=f"transaction_id: settles on {run.settlement_date} in the portal",
            )
            for pk, acquirer_id, amount in chunk
        )
        count += len(chunk)
    return count
