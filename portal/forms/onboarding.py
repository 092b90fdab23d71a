"""
One form per application step. A form parses what the applicant typed; what makes a step
valid (GB 11643 ID numbers, GB 32100 credit codes, Luhn and BIN for cards, names on accounts)
is portal/application_rules.py, which the services apply to what is stored as well. A form
built with ``editable`` lets only those fields change: that is how an applicant fixes what a
reviewer asked about.
"""

from datetime import date
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.validators import drop_invisible
from portal import application_rules, reference
from portal.models import Application, TerminalProduct
from portal.onboarding import STEPS_BY_SLUG, Step

AccountType = Application.AccountType
ApplicantType = Application.ApplicantType


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class StepForm(forms.Form):
    """A step of the application. ``values()`` gives what to store from the valid fields."""

    step: Step
    # Fields that only make sense together: stored all at once or not at all, so that a draft
    # never pairs, say, a corporate account type with the number of a personal card.
    save_together: tuple[tuple[str, ...], ...] = ()
    # Numbers shown masked, never in full, once stored: left empty, the stored one stays.
    secret_fields: tuple[str, ...] = ()

    def __init__(
        self,
        *args,
        application: Application,
        today: date,
        editable: set[str] | None = None,
        **kwargs,
    ):
        kwargs.setdefault("initial", self.initial_from(application))
        super().__init__(*args, **kwargs)
        self.application = application
        self.today = today
        self.editable = editable
        self.warnings: list[str] = []
        self.setup()
        self._mask_secrets()
        if editable is not None:
            for name, field in self.fields.items():
                field.disabled = name not in editable
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(*(name for name, f in self.fields.items() if not f.disabled))

    def setup(self) -> None:
        """Adjust fields to the application (choices, what is required)."""

    def _mask_secrets(self) -> None:
        for name in self.secret_fields:
            stored = getattr(self.application, name)
            if name not in self.fields or not stored:
                continue
            masked = getattr(self.application, f"{name}_masked")
            field = self.fields[name]
            field.required = False
            field.widget.attrs["placeholder"] = masked
            field.help_text = _(
                "Saved as %(masked)s. Leave empty to keep it; type the whole number to change it."
            ) % {"masked": masked}
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned[name] for name in self.step.fields if name in cleaned}
        checked = application_rules.CHECKS[self.step.slug](
            values, application=self.application, today=self.today
        )
        for name, errors in checked.errors.items():
            if name in self.fields and name not in self.errors:
                for error in errors:
                    self.add_error(name, error)
        cleaned.update(
            {name: value for name, value in checked.values.items() if name in self.cleaned_data}
        )
        self.warnings.extend(checked.warnings)
        return cleaned

    def stored_secret(self, name: str, value: str) -> str:
        """What a secret field means: the typed number, or the stored one when left empty."""
        return value or (getattr(self.application, name) or "")

    @classmethod
    def initial_from(cls, application: Application) -> dict:
        initial = {}
        for name in cls.step.fields:
            value = getattr(application, name)
            initial[name] = value.pk if isinstance(value, TerminalProduct) else value
        return initial

    def values(self) -> dict:
        """Model values from the fields that passed validation (all of them when valid)."""
        cleaned = getattr(self, "cleaned_data", None)
        if cleaned is None:  # not bound, or not validated
            return {}
        failed = set(self.errors)
        for group in self.save_together:
            if failed & set(group):
                failed |= set(group)
        return {
            name: cleaned[name]
            for name in self.step.fields
            if name in cleaned
            and name in self.fields
            and name not in failed
            and not self.fields[name].disabled
        }

    def _region_fields(self, prefix: str) -> None:
        province, city = self._current(f"{prefix}province"), self._current(f"{prefix}city")
        self.fields[f"{prefix}province"].choices = [
            ("", _("Choose a province")),
            *reference.province_choices(),
        ]
        self.fields[f"{prefix}city"].choices = [
            ("", _("Choose a city")),
            *reference.city_choices(province),
        ]
        self.fields[f"{prefix}district"].choices = [
            ("", _("Choose a district")),
            *reference.district_choices(city),
        ]
        for part in ("province", "city", "district"):
            self.fields[f"{prefix}{part}"].widget.attrs["data-region"] = part
            self.fields[f"{prefix}{part}"].widget.attrs["data-region-group"] = prefix or "main"

    def _current(self, name: str) -> str:
        """The value a field has right now: as typed when bound, else as stored."""
        if self.is_bound and not self.fields.get(name, forms.Field()).disabled:
            return self.data.get(self.add_prefix(name), "") or ""
        return self.initial.get(name) or ""


class RegionChoiceField(forms.ChoiceField):
    def valid_value(self, value):
        # Cities and districts depend on the province chosen in the same request; the
        # region check in clean() decides whether the three fit together.
        return bool(value) and value.isdigit() and len(value) <= 12


class IdentityForm(StepForm):
    step = STEPS_BY_SLUG["identity"]
    save_together = (("id_valid_from", "id_valid_until", "id_long_term"),)
    secret_fields = ("id_number",)

    applicant_type = forms.ChoiceField(
        label=_("Who is applying?"),
        choices=ApplicantType.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "An individual without a licence can take payments up to the limits for personal "
            "merchants; a licensed business needs its unified social credit code."
        ),
    )
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=50,
        help_text=_("As printed on the resident ID card."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=25,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    id_valid_from = forms.DateField(label=_("ID valid from"), widget=DateInput)
    id_valid_until = forms.DateField(label=_("ID valid until"), widget=DateInput, required=False)
    id_long_term = forms.BooleanField(
        label=_("Valid long-term (长期)"),
        required=False,
        help_text=_("Tick if the card says 长期 instead of an expiry date."),
    )
    contact_mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    contact_email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        help_text=_("Optional; we send progress updates there."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_id_number(self):
        number = self.stored_secret("id_number", self.cleaned_data["id_number"])
        if not number:
            raise ValidationError(self.fields["id_number"].error_messages["required"], "required")
        return number


class BusinessForm(StepForm):
    step = STEPS_BY_SLUG["business"]
    save_together = (("province", "city", "district"),)

    business_name = forms.CharField(
        label=_("Business name"),
        max_length=100,
        help_text=_(
            "The shop's name, printed on receipts. For a licensed business, the name on the "
            "licence."
        ),
    )
    province = RegionChoiceField(label=_("Province"))
    city = RegionChoiceField(label=_("City"))
    district = RegionChoiceField(label=_("District"))
    street = forms.CharField(
        label=_("Street address"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    mcc = forms.ChoiceField(label=_("Business category"))
    expected_monthly_volume = forms.DecimalField(
        label=_("Expected monthly card takings (CNY)"),
        min_value=Decimal("0"),
        max_value=application_rules.MAX_MONTHLY_VOLUME,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    licence_number = forms.CharField(
        label=_("Unified social credit code"),
        max_length=25,
        required=False,
        help_text=_("18 characters, on the business licence (营业执照)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def setup(self):
        self._region_fields("")
        self.fields["mcc"].choices = [("", _("Choose a category")), *reference.mcc_choices()]
        if self.application.is_licensed:
            self.fields["licence_number"].required = True
        else:
            del self.fields["licence_number"]

    def values(self):
        values = super().values()
        if "licence_number" not in self.fields and self.editable is None:
            # An individual has no licence: clear one left from choosing another type first.
            values["licence_number"] = ""
        return values


class SettlementForm(StepForm):
    step = STEPS_BY_SLUG["settlement"]
    save_together = (STEPS_BY_SLUG["settlement"].fields,)
    secret_fields = ("account_number",)

    account_type = forms.ChoiceField(
        label=_("Where should payouts go?"), choices=AccountType.choices, widget=forms.RadioSelect
    )
    account_number = forms.CharField(
        label=_("Card or account number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    bank_code = forms.ChoiceField(
        label=_("Bank"),
        required=False,
        help_text=_("For a bank card the bank is recognised from the number."),
    )
    bank_branch = forms.CharField(
        label=_("Branch"),
        max_length=100,
        required=False,
        help_text=_("The branch where the account was opened, e.g. 上海分行徐汇支行."),
    )
    account_holder = forms.CharField(label=_("Account holder"), max_length=100)
    account_class = forms.TypedChoiceField(
        label=_("Account class"),
        choices=[
            ("", _("Not sure")),
            (1, _("Type I (I类户)")),
            (2, _("Type II (II类户)")),
            (3, _("Type III (III类户)")),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_(
            "Cards opened at a bank counter are usually Type I. Electronic accounts opened in "
            "a bank's app are Type II or III: they limit what they can receive per day."
        ),
    )

    def setup(self):
        allowed = application_rules.ACCOUNT_TYPES_FOR.get(
            self.application.applicant_type, list(AccountType)
        )
        self.fields["account_type"].choices = [(t.value, t.label) for t in allowed]
        if len(allowed) == 1 and not self.initial.get("account_type"):
            self.initial["account_type"] = allowed[0].value
        self.fields["bank_code"].choices = [("", _("Choose the bank")), *reference.bank_choices()]

    def clean(self):
        if "account_number" in self.cleaned_data:
            number = self.stored_secret("account_number", self.cleaned_data["account_number"])
            if number:
                self.cleaned_data["account_number"] = number
            else:
                del self.cleaned_data["account_number"]
                self.add_error(
                    "account_number",
                    ValidationError(
                        self.fields["account_number"].error_messages["required"], "required"
                    ),
                )
        return super().clean()


class OrderForm(StepForm):
    step = STEPS_BY_SLUG["order"]
    save_together = (("product", "quantity"), ("ship_province", "ship_city", "ship_district"))

    product = forms.ModelChoiceField(
        label=_("Terminal"),
        queryset=TerminalProduct.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=application_rules.MAX_QUANTITY
    )
    ship_to_business = forms.BooleanField(
        label=_("Deliver to the business address, to me"), required=False
    )
    ship_name = forms.CharField(label=_("Recipient"), max_length=50, required=False)
    ship_mobile = forms.CharField(
        label=_("Recipient's mobile"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    ship_province = RegionChoiceField(label=_("Province"), required=False)
    ship_city = RegionChoiceField(label=_("City"), required=False)
    ship_district = RegionChoiceField(label=_("District"), required=False)
    ship_street = forms.CharField(label=_("Street address"), max_length=200, required=False)

    def clean_ship_name(self) -> str:
        return drop_invisible(self.cleaned_data["ship_name"]).strip()

    def clean_ship_street(self) -> str:
        return drop_invisible(self.cleaned_data["ship_street"]).strip()

    def setup(self):
        self.fields["product"].queryset = TerminalProduct.objects.filter(
            is_active=True
        ).select_related("fee_schedule")
        self._region_fields("ship_")

    def clean(self):
        if self.cleaned_data.get("ship_to_business"):
            app = self.application
            if not (app.province and app.city and app.district and app.street):
                self.add_error(
                    "ship_to_business",
                    ValidationError(
                        _("Fill in the business address first (step 2), or enter an address."),
                        code="no_business_address",
                    ),
                )
                # The address was meant to come from step 2: one error says so, not six.
                cleaned = super().clean()
                for name in application_rules.SHIPPING_FIELDS:
                    self.errors.pop(name, None)
                return cleaned
            self.cleaned_data.update(
                ship_name=app.legal_name,
                ship_mobile=app.contact_mobile,
                ship_province=app.province,
                ship_city=app.city,
                ship_district=app.district,
                ship_street=app.street,
            )
            for name in application_rules.SHIPPING_FIELDS:
                self.errors.pop(name, None)
        return super().clean()


STEP_FORMS: dict[str, type[StepForm]] = {
    "identity": IdentityForm,
    "business": BusinessForm,
    "settlement": SettlementForm,
    "order": OrderForm,
}


def stored_step_form(application: Application, step: Step, *, today: date) -> StepForm:
    """The step's form bound to what is stored, as the applicant would post it again."""
    form_class = STEP_FORMS[step.slug]
    unbound = form_class(application=application, today=today)
    data = {}
    for name, field in unbound.fields.items():
        value = unbound.initial.get(name, field.initial)
        if value is None or value is False:
            continue
        data[name] = value.isoformat() if isinstance(value, date) else value
    return form_class(data=data, application=application, today=today)
