from django.db import migrations


class Migration(migrations.Migration):
    """Every event model now extends core.models.StatusEvent, whose free-text "why" is called
    ``reason``: the free-text ``note`` columns are renamed to it, and an application's
    rejection code (``reason`` until now) becomes ``rejection_reason``."""

    dependencies = [("portal", "0013_pii_access")]

    operations = [
        migrations.RenameField("applicationevent", "reason", "rejection_reason"),
        migrations.RenameField("applicationevent", "note", "reason"),
        migrations.RenameField("merchantevent", "note", "reason"),
        migrations.RenameField("terminalevent", "note", "reason"),
    ]
