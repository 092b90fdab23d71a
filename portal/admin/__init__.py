from portal.admin import accounts, onboarding

__all__ = ["accounts", "onboarding"]
