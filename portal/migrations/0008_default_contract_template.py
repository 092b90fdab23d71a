"""The first merchant acquiring contract template (text in portal/contract_defaults.py)."""

from django.db import migrations

from portal.contract_defaults import default_template_ensure


def create_template(apps, schema_editor):
    default_template_ensure(apps.get_model("portal", "ContractTemplate"))


class Migration(migrations.Migration):
    dependencies = [("portal", "0007_documents_contracts_terminals")]

    operations = [
        migrations.RunPython(create_template, migrations.RunPython.noop),
    ]
