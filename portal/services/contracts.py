"""
Contracts: offered on approval as a PDF rendered from the active template, signed online
(typed legal name, drawn signature, consent, one-time code), and from then on immutable. The
SHA-256 of the exact PDF offered is recorded when it is made and checked again when signed;
the signed PDF appends a signature page and a certificate page (the audit trail).
"""

import dataclasses
import hashlib
import hmac
import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template import Context, Template, TemplateSyntaxError, Variable
from django.template.base import TextNode, VariableNode
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageChops

from core import transitions
from core.transitions import StateError, transition
from core.validators import fold_width
from portal import contract_pdf, identity, otp, reference
from portal.models import Application, Contract, ContractTemplate, Merchant, User
from portal.services.merchants import merchant_transition
from portal.services.notifications import notify
from portal.templatetags.portal import percent, yuan

Status = Contract.Status
logger = logging.getLogger(__name__)
# The contract is in Chinese whatever the language of the page: its wording binds.
CONTRACT_LANGUAGE = "zh-hans"
CODE_LIFETIME = timedelta(minutes=10)
CODE_RESEND_AFTER = timedelta(seconds=60)
CODE_MAX_ATTEMPTS = 5
# Codes per contract: with 5 tries each, guessing stays hopeless over the signing period.
CODE_MAX_SENDS = 10
SIGNATURE_MAX_BYTES = 512 * 1024
CONSENT_TEXT = _(
    "I have read the whole contract, agree to its terms, and agree to sign it electronically "
    "with the same effect as a handwritten signature."
)


class ContractStateError(StateError):
    pass


def _contract_url(contract: Contract) -> str:
    return reverse("portal:contract-detail", args=[contract.public_id])


def contract_fields(merchant: Merchant, application: Application | None) -> list[tuple[str, str]]:
    """The merchant's particulars printed at the top of the contract (numbers masked)."""
    schedule = merchant.fee_schedule
    rows = [(gettext("Merchant"), merchant.name), (gettext("Merchant number (MID)"), merchant.mid)]
    if application is not None:
        province, city, district = reference.region_names(
            application.province, application.city, application.district
        )
        bank = reference.bank_get(application.bank_code)
        rows += [
            (gettext("Legal name"), application.legal_name),
            (gettext("Resident ID number"), application.id_number_masked),
            (
                gettext("Address"),
                " ".join(
                    dict.fromkeys(filter(None, [province, city, district, application.street]))
                ),
            ),
            (gettext("Business category"), application.mcc),
            (gettext("Settlement account"), application.account_number_masked),
            (
                gettext("Bank"),
                (bank.name_zh if bank else application.bank_name) + " " + application.bank_branch,
            ),
            (gettext("Account holder"), application.account_holder),
        ]
    if schedule is not None:
        for label, rate, cap in schedule.channel_rates():
            shown = percent(rate) + (
                f"（{gettext('capped at %(cap)s') % {'cap': yuan(cap)}}）" if cap else ""
            )
            rows.append((str(label), shown))
        rows.append((gettext("Settlement cycle"), schedule.get_settlement_cycle_display()))
        if schedule.settlement_cycle == schedule.Cycle.D0 and schedule.d0_surcharge_rate:
            rows.append(
                (gettext("Same-day settlement surcharge"), percent(schedule.d0_surcharge_rate))
            )
    return rows


TEMPLATE_VARIABLES = ("merchant_name", "mid", "legal_name", "acquirer", "support_phone")


def contract_template_check(body: str) -> None:
    """Terms a template may hold: text with sections ("## heading") and the contract's
    variables, nothing else. A tag (if, include, debug…) would break or leak at approval."""
    try:
        template = Template(body)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            _("The terms cannot be read: %(error)s") % {"error": exc}, code="syntax"
        ) from exc
    for node in template.nodelist:
        if isinstance(node, TextNode):
            continue
        variable = getattr(getattr(node, "filter_expression", None), "var", None)
        if (
            not isinstance(node, VariableNode)
            or node.filter_expression.filters
            or not isinstance(variable, Variable)
            or variable.var not in TEMPLATE_VARIABLES
        ):
            raise ValidationError(
                _("Only these fields may be used in the terms: %(fields)s.")
                % {"fields": ", ".join(f"{{{{ {name} }}}}" for name in TEMPLATE_VARIABLES)},
                code="not_allowed",
            )
    if not re.search(r"(?m)^##\s*\S", body):
        raise ValidationError(_("Start each section with a line “## heading”."), code="no_sections")


def contract_sections(template: ContractTemplate, context: dict) -> list[tuple[str, list[str]]]:
    """The template's terms with the merchant's particulars filled in, as sections."""
    text = Template(template.body).render(Context(context, autoescape=False))
    sections: list[tuple[str, list[str]]] = []
    for block in re.split(r"(?m)^##\s*", text):
        block = block.strip()
        if not block:
            continue
        heading, _sep, rest = block.partition("\n")
        paragraphs = [p.strip().replace("\n", "") for p in re.split(r"\n\s*\n", rest) if p.strip()]
        sections.append((heading.strip(), paragraphs))
    return sections


def contract_offer(*, merchant: Merchant, application: Application | None = None) -> Contract:
    """Render the contract for ``merchant`` from the active template and offer it for
    signing. Refused while another is waiting; not idempotent (each call is a new number)."""
    with translation.override(CONTRACT_LANGUAGE):
        return _contract_offer(merchant=merchant, application=application)


def _contract_offer(*, merchant: Merchant, application: Application | None) -> Contract:
    template = ContractTemplate.objects.filter(is_active=True).order_by("-version").first()
    if template is None:
        raise ContractStateError(_("No contract template is active."), code="no_template")
    application = application or getattr(merchant, "application", None)
    fields = contract_fields(merchant, application)
    context = {
        "merchant_name": merchant.name,
        "mid": merchant.mid,
        "legal_name": application.legal_name if application else merchant.name,
        "acquirer": settings.ACQUIRER_NAME,
        "support_phone": settings.SUPPORT_PHONE,
    }
    sections = contract_sections(template, context)
    for _attempt in range(10):
        number = f"HT{timezone.localdate():%Y%m%d}{secrets.randbelow(10**6):06d}"
        pdf = contract_pdf.render_contract(
            title=template.title,
            number=number,
            sections=sections,
            fields=fields,
            footer=f"{settings.ACQUIRER_NAME} · {template.title} v{template.version}",
        )
        try:
            with transaction.atomic():
                if merchant.contracts.filter(status=Status.PENDING).exists():
                    raise ContractStateError(
                        _("A contract is already waiting for this merchant's signature."),
                        code="already_pending",
                    )
                contract = Contract(
                    number=number,
                    merchant=merchant,
                    template=template,
                    terms={"fields": fields, "sections": sections},
                    document_sha256=hashlib.sha256(pdf).hexdigest(),
                    expires_at=timezone.now() + timedelta(days=settings.CONTRACT_SIGNING_DAYS),
                )
                contract.document.save(
                    f"contracts/{contract.public_id.hex}.pdf", ContentFile(pdf), save=False
                )
                contract.save()
                transitions.event_record(contract, from_status="")
                notify(
                    user=merchant.user,
                    kind="contract_ready",
                    params={"number": number, "days": settings.CONTRACT_SIGNING_DAYS},
                    url=_contract_url(contract),
                    email=application.contact_email if application else "",
                )
                return contract
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a free contract number")


def _code_digest(contract: Contract, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{contract.public_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _check_signable(contract: Contract, user: User) -> None:
    if contract.merchant.user_id != user.pk:
        raise ContractStateError(_("This contract is not yours to sign."), code="not_yours")
    if contract.status != Status.PENDING:
        raise ContractStateError(
            _("This contract is %(status)s and can no longer be signed.")
            % {"status": Status(contract.status).label},
            code="not_pending",
        )
    if contract.expires_at <= timezone.now():
        raise ContractStateError(
            _("This contract has expired. Ask for a new one in the merchant area."),
            code="expired",
        )


def contract_send_code(*, contract: Contract, user: User) -> str:
    """Send a new one-time signing code; returns where it went (masked). At most once a
    minute; a new code replaces the old and resets the attempts."""
    with transaction.atomic():
        locked = Contract.objects.select_for_update().select_related("merchant").get(pk=contract.pk)
        _check_signable(locked, user)
        now = timezone.now()
        if locked.code_sends >= CODE_MAX_SENDS:
            raise ContractStateError(
                _("Too many codes were sent for this contract. Call customer service."),
                code="too_many_codes",
            )
        if locked.code_sent_at and now - locked.code_sent_at < CODE_RESEND_AFTER:
            raise ContractStateError(
                _("A code was sent less than a minute ago. Wait a moment before asking again."),
                code="too_soon",
            )
        code = f"{secrets.randbelow(10**6):06d}"
        application = getattr(locked.merchant, "application", None)
        recipient = otp.recipient_for(user, email=application.contact_email if application else "")
        locked.code_hash = _code_digest(locked, code)
        locked.code_expires_at = now + CODE_LIFETIME
        locked.code_attempts = 0
        locked.code_sent_at = now
        locked.code_sent_to = recipient.masked
        locked.code_sends += 1
        locked.save(
            update_fields=[
                "code_hash",
                "code_expires_at",
                "code_attempts",
                "code_sent_at",
                "code_sent_to",
                "code_sends",
            ]
        )
        try:
            otp.send_code(
                recipient=recipient,
                code=code,
                purpose=gettext("signing contract %(number)s") % {"number": locked.number},
            )
        except otp.CodeNotSent as exc:
            # Raised inside the transaction: the new code is rolled back with it.
            logger.warning("signing code for %s not sent: %s", locked.number, exc)
            raise ContractStateError(
                _(
                    "The code could not be sent just now. Try again in a few minutes, or "
                    "call customer service."
                ),
                code="not_sent",
            ) from exc
    return recipient.masked


CODE_ERRORS = {
    "no_code": _("Ask for a code first."),
    "too_many_attempts": _("Too many wrong codes. Ask for a new code."),
    "code_expired": _("The code has expired. Ask for a new one."),
    "wrong_code": _("The code is not right. Check the latest message."),
}


def _code_check(contract_pk: int, code: str) -> str:
    """ "ok" or the reason the code is refused. The attempt is counted (and committed) either
    way, so that guessing stops after CODE_MAX_ATTEMPTS."""
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract_pk)
        if not contract.code_hash or contract.code_expires_at is None:
            return "no_code"
        if contract.code_attempts >= CODE_MAX_ATTEMPTS:
            return "too_many_attempts"
        contract.code_attempts += 1
        contract.save(update_fields=["code_attempts"])
        if contract.code_expires_at <= timezone.now():
            return "code_expired"
        code = fold_width(code).strip()
        if not (code.isascii() and code.isdigit()) or not hmac.compare_digest(
            contract.code_hash, _code_digest(contract, code)
        ):
            return "wrong_code"
        return "ok"


def signature_validate(png: bytes) -> bytes:
    """The drawn signature: a real PNG of sensible size with ink on it. Returns it re-encoded
    from its pixels (what is stored and printed), so nothing else in the upload survives."""
    refused = ValidationError(_("Draw your signature in the box."), code="bad_signature")
    if not png or len(png) > SIGNATURE_MAX_BYTES:
        raise ValidationError(_("Draw your signature in the box."), code="no_signature")
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            if image.width * image.height > 4_000_000:
                raise refused
            image.load()
            pixels = image.convert("RGBA")
    except ValidationError:
        raise
    except Exception as exc:  # any decoding failure (bombs, bad chunks): not a signature
        raise refused from exc
    # Ink: pixels that are visible and dark. A white or blank canvas has none.
    alpha = pixels.getchannel("A").point(lambda a: 255 if a > 64 else 0)
    dark = pixels.convert("L").point(lambda v: 255 if v < 160 else 0)
    ink = sum(ImageChops.multiply(alpha, dark).histogram()[255:])
    if ink < 50:  # a dot or a slip of the finger is not a signature
        raise ValidationError(
            _("The signature is empty or too small. Sign with your full name."),
            code="empty_signature",
        )
    clean = io.BytesIO()
    pixels.save(clean, "PNG", optimize=True)
    return clean.getvalue()


@dataclass(frozen=True)
class SigningRequest:
    typed_name: str
    code: str
    signature_png: bytes
    consent: bool
    ip: str | None
    user_agent: str


def contract_sign(*, contract: Contract, user: User, signing: SigningRequest) -> Contract:
    """Sign: check everything, then write the signed PDF with its certificate page and the
    record of who signed what, when and from where. Exactly once."""
    errors: dict[str, list] = {}
    with transaction.atomic():
        locked = (
            Contract.objects.select_for_update()
            .select_related("merchant", "template")
            .get(pk=contract.pk)
        )
        _check_signable(locked, user)
        application = getattr(locked.merchant, "application", None)
        legal_name = application.legal_name if application else locked.merchant.name
        if not signing.consent:
            errors["consent"] = [
                ValidationError(_("Tick the box to agree to the contract."), code="no_consent")
            ]
        if not identity.holder_name_matches(signing.typed_name, legal_name):
            errors["typed_name"] = [
                ValidationError(
                    _("Type your full legal name exactly as it is on your ID card."),
                    code="name_mismatch",
                )
            ]
        try:
            signature = signature_validate(signing.signature_png)
        except ValidationError as exc:
            errors["signature"] = [exc]
        if errors:
            raise ValidationError(errors)
        # From here on the signature is the re-encoded image, not the bytes as sent.
        signing = dataclasses.replace(signing, signature_png=signature)
    outcome = _code_check(contract.pk, signing.code)
    if outcome != "ok":
        raise ValidationError({"code": [ValidationError(CODE_ERRORS[outcome], code=outcome)]})
    with transaction.atomic():
        locked = (
            Contract.objects.select_for_update()
            .select_related("merchant", "template")
            .get(pk=contract.pk)
        )
        _check_signable(locked, user)  # again: another tab may have signed meanwhile
        original = _read(locked.document)
        if hashlib.sha256(original).hexdigest() != locked.document_sha256:
            raise ContractStateError(
                _("The contract file does not match its record. Contact customer service."),
                code="tampered",
            )
        now = timezone.now()
        signed = _signed_pdf(locked, signing, original, now)
        locked.signature.save(
            f"signatures/{locked.public_id.hex}.png", ContentFile(signing.signature_png), save=False
        )
        locked.signed_document.save(
            f"contracts/{locked.public_id.hex}-signed.pdf", ContentFile(signed), save=False
        )
        transition(
            locked,
            Status.SIGNED,
            actor=user,
            updates={
                "signature": locked.signature.name,
                "signed_document": locked.signed_document.name,
                "signed_at": now,
                "signer": user,
                "signer_name": signing.typed_name,
                "signer_ip": signing.ip,
                "signer_user_agent": signing.user_agent[:300],
                "signed_sha256": hashlib.sha256(signed).hexdigest(),
                "code_hash": "",
            },
        )
        if not locked.template.requires_countersignature:
            merchant_transition(
                merchant=locked.merchant,
                to_status=Merchant.Status.CONTRACT_SIGNED,
                actor=user,
                note=locked.number,
            )
        notify(
            user=user,
            kind="contract_signed",
            params={"number": locked.number},
            url=_contract_url(locked),
            email=application.contact_email if application else "",
        )
    contract.refresh_from_db()
    return contract


def _signed_pdf(contract: Contract, signing: "SigningRequest", original: bytes, now) -> bytes:
    """The signed PDF: the original, the signature page and the certificate (in Chinese,
    like the contract it belongs to)."""
    signed_at_text = timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S %z")
    with translation.override(CONTRACT_LANGUAGE):
        audit = [
            (gettext("Contract number"), contract.number),
            (gettext("Template"), f"{contract.template.title} v{contract.template.version}"),
            (gettext("SHA-256 of the contract signed"), contract.document_sha256),
            (gettext("Signer"), signing.typed_name),
            (gettext("Merchant number (MID)"), contract.merchant.mid),
            (gettext("Signed at"), signed_at_text),
            (gettext("IP address"), signing.ip or "—"),
            (gettext("Browser"), signing.user_agent[:200] or "—"),
            (gettext("One-time code sent to"), contract.code_sent_to),
            (gettext("Consent"), str(CONSENT_TEXT)),
        ]
        return contract_pdf.render_signed(
            original_pdf=original,
            signature_png=signing.signature_png,
            signer_name=signing.typed_name,
            signed_at_text=signed_at_text,
            audit=audit,
            certificate_title=gettext("Signing certificate"),
        )


def contract_countersign(*, contract: Contract, staff: User) -> Contract:
    """The acquirer's countersignature, for templates that need one. Exactly once."""
    with transaction.atomic():
        locked = (
            Contract.objects.select_for_update()
            .select_related("merchant", "template")
            .get(pk=contract.pk)
        )
        if locked.status != Status.SIGNED or not locked.template.requires_countersignature:
            raise ContractStateError(
                _("This contract does not wait for a countersignature."), code="not_countersignable"
            )
        if locked.countersigned_at:
            raise ContractStateError(
                _("This contract is already countersigned."), code="already_countersigned"
            )
        locked.countersigned_by = staff
        locked.countersigned_at = timezone.now()
        locked.save(update_fields=["countersigned_by", "countersigned_at"])
        merchant_transition(
            merchant=locked.merchant,
            to_status=Merchant.Status.CONTRACT_SIGNED,
            actor=staff,
            note=locked.number,
        )
    contract.refresh_from_db()
    return contract


def _read(field) -> bytes:
    with field.open("rb") as f:
        return f.read()


@dataclass(frozen=True)
class Verification:
    result: str  # "signed" (the signed original), "unsigned" (the offer as made), "unknown"
    contract: Contract | None


def contract_verify(
    *, pdf: bytes | None = None, number: str = "", sha256: str = ""
) -> Verification:
    """Is this PDF (or this number and hash) a contract we issued, and is it the signed
    original? One changed byte gives a different hash, hence "unknown"."""
    digest = hashlib.sha256(pdf).hexdigest() if pdf is not None else sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest or ""):
        return Verification("unknown", None)
    candidates = Contract.objects.select_related("merchant")
    if number:
        candidates = candidates.filter(number=number.strip().upper())
    signed = candidates.filter(signed_sha256=digest).first()
    if signed:
        return Verification("signed", signed)
    unsigned = candidates.filter(document_sha256=digest).first()
    if unsigned:
        return Verification("unsigned", unsigned)
    return Verification("unknown", None)


def contracts_remind_and_expire(*, now=None) -> tuple[int, int]:
    """Daily: remind merchants of contracts unsigned for CONTRACT_REMINDER_DAYS, expire those
    past their date. Returns (reminded, expired). Safe to repeat: each is done once."""
    now = now or timezone.now()
    reminded = expired = 0
    due = Contract.objects.filter(
        status=Status.PENDING,
        reminded_at__isnull=True,
        created_at__lte=now - timedelta(days=settings.CONTRACT_REMINDER_DAYS),
        expires_at__gt=now,
    ).select_related("merchant__user")
    for contract in due:
        with transaction.atomic():
            if Contract.objects.filter(pk=contract.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                notify(
                    user=contract.merchant.user,
                    kind="contract_reminder",
                    params={
                        "number": contract.number,
                        "date": f"{timezone.localtime(contract.expires_at):%Y-%m-%d}",
                    },
                    url=_contract_url(contract),
                )
                reminded += 1
    for contract in Contract.objects.filter(
        status=Status.PENDING, expires_at__lte=now
    ).select_related("merchant__user"):
        with transaction.atomic():
            locked = (
                Contract.objects.select_for_update()
                .filter(pk=contract.pk, status=Status.PENDING)
                .first()
            )
            if locked is not None:
                transition(locked, Status.EXPIRED, reason="not signed in time")
                notify(
                    user=contract.merchant.user,
                    kind="contract_expired",
                    params={"number": contract.number},
                    url=reverse("portal:merchant-home"),
                )
                expired += 1
    return reminded, expired


def contract_renew(*, merchant: Merchant, user: User) -> Contract:
    """A merchant whose contract expired unsigned asks for a new one."""
    if merchant.user_id != user.pk:
        raise ContractStateError(_("This is not your merchant account."), code="not_yours")
    # A contract signed and waiting for the acquirer's countersignature leaves the merchant
    # "contract pending" too: it must not be replaced.
    if (
        merchant.status != Merchant.Status.CONTRACT_PENDING
        or merchant.contracts.filter(status=Status.SIGNED).exists()
    ):
        raise ContractStateError(_("Your contract is already signed."), code="signed")
    return contract_offer(merchant=merchant)
