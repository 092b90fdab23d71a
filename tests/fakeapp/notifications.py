from core.notifications import Text

TEXTS = {"fake_happened": Text("Fake %(what)s", "It was %(what)s.")}
