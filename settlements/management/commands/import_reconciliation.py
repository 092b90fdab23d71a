from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils.translation import gettext as _

from core import jobs
from settlements.models import Discrepancy, ReconciliationRun
from settlements.reconciliation import JOB_KIND, reconciliation_retry, reconciliation_start

# Enough malformed line numbers to find the pattern; the admin lists them all.
MALFORMED_SHOWN = 10


class Command(BaseCommand):
    help = (
        "Import an acquirer's daily reconciliation file (CSV) and match it against the "
        "ledger. The settlement date comes from --date or from the file name. Importing the "
        "same file again changes nothing (a failed import is tried again); --force imports "
        "it again anyway, --retry RUN tries a failed run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the reconciliation CSV file")
        parser.add_argument("--date", help="settlement date, YYYY-MM-DD (default: from the name)")
        parser.add_argument("--acquirer", help="acquirer code (default: ACQUIRER_CODE)")
        parser.add_argument(
            "--async",
            action="store_true",
            dest="run_async",
            help="leave the matching to a worker instead of doing it now",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="import a file that was imported before; the earlier run is superseded",
        )
        parser.add_argument(
            "--retry", type=int, metavar="RUN", help="import a failed run again (by its number)"
        )

    def handle(self, *args, **options):
        if options["retry"] is not None:
            if options["file"]:
                raise CommandError(_("Give a file or --retry RUN, not both."))
            run = self.retry(options["retry"])
        elif options["file"]:
            run = self.start(options)
            if run is None:
                return
        else:
            raise CommandError(_("Give the file to import, or --retry RUN."))
        if options["run_async"]:
            self.stdout.write(
                _("Run %(run)s queued (settlement date %(date)s).")
                % {"run": run.pk, "date": run.settlement_date}
            )
            return
        self.process(run)

    def start(self, options) -> ReconciliationRun | None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("There is no file at %(path)s.") % {"path": path})
        settlement_date = self.parse_date(options["date"]) if options["date"] else None
        was_failed = False
        try:
            run, created = reconciliation_start(
                source=path,
                file_name=path.name,
                settlement_date=settlement_date,
                acquirer=options["acquirer"],
                force=options["force"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except OSError as exc:
            raise CommandError(
                _("%(path)s cannot be read: %(error)s") % {"path": path, "error": exc.strerror}
            ) from None
        was_failed = not created and run.status == ReconciliationRun.Status.FAILED
        if was_failed:
            self.stdout.write(
                _("Run %(run)s of this file had failed; importing it again.") % {"run": run.pk}
            )
        elif not created:
            self.stdout.write(
                _(
                    "This file was already imported: run %(run)s, settlement date %(date)s, "
                    "%(status)s. Nothing changed."
                )
                % {"run": run.pk, "date": run.settlement_date, "status": run.get_status_display()}
            )
            return None
        return run

    def retry(self, run_id: int) -> ReconciliationRun:
        run = ReconciliationRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(_("There is no run %(run)s.") % {"run": run_id})
        try:
            return reconciliation_retry(run=run)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

    def process(self, run: ReconciliationRun) -> None:
        """Run the import's job here and now (a worker that has already taken it keeps it)."""
        job = jobs.open_job(kind=JOB_KIND, subject=run)
        if job is not None:
            jobs.job_run(job_id=job.pk)
            job.refresh_from_db()
        run.refresh_from_db()
        if run.status == ReconciliationRun.Status.DONE:
            self.write_summary(run)
            return
        if job is not None and job.status == job.Status.RUNNING:
            raise CommandError(
                _("Run %(run)s is being imported by a worker; follow it in the admin.")
                % {"run": run.pk}
            )
        raise CommandError(
            _("Run %(run)s failed: %(error)s")
            % {"run": run.pk, "error": run.error or (job.last_error if job else "")}
        )

    def parse_date(self, value: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CommandError(
                _("“%(value)s” is not a date: give it as YYYY-MM-DD.") % {"value": value}
            ) from None

    def write_summary(self, run: ReconciliationRun) -> None:
        by_kind = dict(
            Discrepancy.objects.filter(run=run)
            .values_list("kind")
            .annotate(count=Count("pk"))
            .order_by()
        )
        lines = [
            _("Run %(run)s, settlement date %(date)s: %(status)s")
            % {"run": run.pk, "date": run.settlement_date, "status": run.get_status_display()},
            _("Lines: %(count)s") % {"count": run.line_count},
            _("Matched: %(count)s") % {"count": run.matched_count},
        ]
        for kind in Discrepancy.Kind:
            lines.append(f"{kind.label}: {by_kind.get(kind.value, 0)}")
        if run.malformed_count:
            first = list(
                Discrepancy.objects.filter(run=run, kind=Discrepancy.Kind.MALFORMED)
                .order_by("line_no")
                .values_list("line_no", flat=True)[:MALFORMED_SHOWN]
            )
            lines.append(
                _("Malformed lines: %(lines)s%(more)s")
                % {
                    "lines": ", ".join(str(n) for n in first),
                    "more": " …" if run.malformed_count > len(first) else "",
                }
            )
        self.stdout.write("\n".join(lines))
