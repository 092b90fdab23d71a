from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils.translation import gettext as _

from settlements.models import Discrepancy, ReconciliationRun
from settlements.reconciliation import reconciliation_process, reconciliation_start
from settlements.tasks import reconciliation_process_task

# Enough malformed line numbers to find the pattern; the admin lists them all.
MALFORMED_SHOWN = 10


class Command(BaseCommand):
    help = (
        "Import an acquirer's daily reconciliation file (CSV) and match it against the "
        "ledger. The settlement date comes from --date or from the file name. Importing the "
        "same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the reconciliation CSV file")
        parser.add_argument("--date", help="settlement date, YYYY-MM-DD (default: from the name)")
        parser.add_argument("--acquirer", help="acquirer code (default: ACQUIRER_CODE)")
        parser.add_argument(
            "--async",
            action="store_true",
            dest="run_async",
            help="queue the matching for a worker instead of doing it now",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("There is no file at %(path)s.") % {"path": path})
        settlement_date = self.parse_date(options["date"]) if options["date"] else None
        try:
            run, created = reconciliation_start(
                source=path,
                file_name=path.name,
                settlement_date=settlement_date,
                acquirer=options["acquirer"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except OSError as exc:
            raise CommandError(
                _("%(path)s cannot be read: %(error)s") % {"path": path, "error": exc.strerror}
            ) from None
        if not created:
            self.stdout.write(
                _(
                    "This file was already imported: run %(run)s, settlement date %(date)s, "
                    "%(status)s. Nothing changed."
                )
                % {"run": run.pk, "date": run.settlement_date, "status": run.get_status_display()}
            )
            return
        if options["run_async"]:
            reconciliation_process_task.delay_on_commit(run.pk)
            self.stdout.write(
                _("Run %(run)s queued (settlement date %(date)s).")
                % {"run": run.pk, "date": run.settlement_date}
            )
            return
        run = reconciliation_process(run_id=run.pk)
        if run.status == ReconciliationRun.Status.FAILED:
            raise CommandError(
                _("Run %(run)s failed: %(error)s") % {"run": run.pk, "error": run.error}
            )
        self.write_summary(run)

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
