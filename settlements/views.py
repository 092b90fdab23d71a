"""The merchant's money pages: transactions (交易流水), payouts (结算到账) and statements.

Every view reads through ``settlements.selectors`` scoped to the signed-in merchant, so
another merchant's transaction, payout, export or statement answers 404.
"""

from datetime import date, timedelta

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.decorators import merchant_required
from core.pagination import InvalidCursor, keyset_page
from settlements import exports, selectors, statements, webhooks
from settlements.filters import PayoutFilter, TransactionFilter

PAGE_SIZE = 50


def bad_request(request, message: str) -> HttpResponse:
    return render(request, "400.html", {"message": message}, status=400)


def filtered_transactions(request) -> TransactionFilter:
    return TransactionFilter(
        request.GET or None, queryset=selectors.transaction_list(merchant=request.merchant)
    )


@require_GET
@merchant_required
def transaction_list(request):
    search = filtered_transactions(request)
    today = timezone.localdate()
    context = {
        "filter": search,
        "form": search.form,
        "quick_ranges": [
            (_("Today"), today, today),
            (_("Last 7 days"), today - timedelta(days=6), today),
            (_("This month"), today.replace(day=1), today),
        ],
    }
    if search.is_bound and not search.is_valid():
        # The form shows what is wrong with each field; nothing is listed for a bad search.
        return render(request, "settlements/transactions.html", context, status=400)
    queryset = search.qs
    try:
        page = keyset_page(
            queryset, keys=("occurred_at", "pk"), cursor=request.GET.get("cursor"), size=PAGE_SIZE
        )
    except InvalidCursor:
        return bad_request(request, _("This page link is not valid. Start again from the list."))
    query = request.GET.copy()
    query.pop("cursor", None)
    context.update(
        page=page,
        totals=selectors.transaction_totals(queryset),
        query=query.urlencode(),
    )
    return render(request, "settlements/transactions.html", context)


@require_GET
@merchant_required
def transaction_export(request, fmt: str):
    search = filtered_transactions(request)
    if search.is_bound and not search.is_valid():
        return bad_request(request, _("Correct the search before exporting it."))
    queryset = search.qs.order_by("-occurred_at", "-pk")
    filename = exports.export_filename(mid=request.merchant.mid, extension=fmt)
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(queryset), content_type="text/csv; charset=utf-8"
        )
    elif fmt == "xlsx":
        response = FileResponse(
            exports.xlsx_file(queryset, title=_("Transactions")),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404("unknown export format")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@merchant_required
def transaction_detail(request, public_id):
    record = selectors.transaction_get(merchant=request.merchant, public_id=public_id)
    context = {
        "transaction": record,
        "undone_by": selectors.transaction_undone_by(record=record),
    }
    return render(request, "settlements/transaction_detail.html", context)


@require_GET
@merchant_required
def payout_list(request):
    search = PayoutFilter(
        request.GET or None, queryset=selectors.payout_list(merchant=request.merchant)
    )
    if search.is_bound and not search.is_valid():
        return render(request, "settlements/payouts.html", payout_context(search), status=400)
    try:
        page = keyset_page(
            search.qs,
            keys=("settlement_date", "pk"),
            cursor=request.GET.get("cursor"),
            size=PAGE_SIZE,
        )
    except InvalidCursor:
        return bad_request(request, _("This page link is not valid. Start again from the list."))
    query = request.GET.copy()
    query.pop("cursor", None)
    context = payout_context(search, page=page, query=query.urlencode())
    return render(request, "settlements/payouts.html", context)


def payout_context(search: PayoutFilter, **context) -> dict:
    late_after_hours = int(settings.PAYOUT_LATE_AFTER.total_seconds() // 3600)
    return {"filter": search, "late_after_hours": late_after_hours, **context}


@require_GET
@merchant_required
def payout_detail(request, public_id):
    payout = selectors.payout_get(merchant=request.merchant, public_id=public_id)
    transactions = list(selectors.payout_transactions(payout=payout)[:PAYOUT_PREVIEW_ROWS])
    context = {
        "payout": payout,
        "composition": selectors.payout_composition(payout=payout),
        "transactions": transactions,
        "more_transactions": payout.transaction_count > len(transactions),
        "merchant": request.merchant,
        "acquirer_name": settings.ACQUIRER_NAME,
    }
    return render(request, "settlements/payout_detail.html", context)


PAYOUT_PREVIEW_ROWS = 20


@require_GET
@merchant_required
def statement_list(request):
    context = {"months": statements.statement_months(merchant=request.merchant)}
    return render(request, "settlements/statements.html", context)


@require_GET
@merchant_required
def statement_download(request, month: str, fmt: str):
    try:
        first_day = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise Http404("no such month") from None
    joined = timezone.localdate(request.merchant.created_at).replace(day=1)
    if not joined <= first_day <= timezone.localdate():
        raise Http404("no statement for that month")
    statement = statements.statement_for(merchant=request.merchant, month=first_day)
    name = f"statement-{request.merchant.mid}-{month}.{fmt}"
    if fmt == "pdf":
        response = HttpResponse(statements.statement_pdf(statement), content_type="application/pdf")
    else:
        response = HttpResponse(
            statements.statement_csv(statement), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@csrf_exempt
@require_POST
def acquirer_webhook(request):
    """The acquirer's events (docs/acquirer-api.md): checked, stored, answered 2xx, applied
    later by a worker. Signed by the acquirer, so no session and no CSRF token."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not declared.isdigit() or int(declared) > webhooks.MAX_BODY_BYTES:
        return _webhook_error(413, "too_large", "the body is missing its length or too large")
    body = request.read(webhooks.MAX_BODY_BYTES + 1)
    if len(body) > webhooks.MAX_BODY_BYTES:
        return _webhook_error(413, "too_large", "the body is too large")
    try:
        event, stored = webhooks.webhook_receive(
            body=body, signature=request.headers.get("X-Acquirer-Signature", "")
        )
    except webhooks.Refused as refused:
        return _webhook_error(refused.http_status, refused.code, str(refused))
    return JsonResponse({"id": event.event_id, "stored": stored})


def _webhook_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
