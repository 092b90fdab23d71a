"""The shared layer: building blocks every app uses (state transitions, personal-data fields and
masking, pagination, rate limits, upload checks, PDF building blocks, admin history, view
decorators, the registries the project wiring collects). It imports no app of this project;
an import-linter contract in CI keeps it so."""
