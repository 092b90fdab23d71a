from portal.admin import accounts, contracts, onboarding

__all__ = ["accounts", "contracts", "onboarding"]
