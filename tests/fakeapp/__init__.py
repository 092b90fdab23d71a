"""An app that declares one of everything the wiring collects (tests/core/test_registry.py):
adding it to PROJECT_APPS must be enough for each part to appear."""
