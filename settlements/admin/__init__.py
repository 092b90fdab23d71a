"""The settlements admin: the ledger (for finance, support and risk) and the acquirers."""

from settlements.admin import acquirers, ledger

__all__ = ["acquirers", "ledger"]
