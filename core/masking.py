"""How personal data looks on screen: enough to recognise it, not enough to misuse it."""


def mask_middle(value: str, *, keep_start: int, keep_end: int, char: str = "*") -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return char * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + char * hidden + value[len(value) - keep_end :]


def mask_mobile(mobile: str) -> str:
    """138****8000, the form Chinese banks and apps use."""
    return mask_middle(mobile, keep_start=3, keep_end=4)


def mask_email(email: str) -> str:
    local, sep, domain = email.partition("@")
    if not sep:
        return mask_middle(email, keep_start=1, keep_end=0)
    return f"{local[:1]}***@{domain}"


def mask_account_number(number: str) -> str:
    """First 6 and last 4 digits (DESIGN.md §7) for card and bank account numbers."""
    return mask_middle(number, keep_start=6, keep_end=4)
