from axes.helpers import get_client_ip_address


def client_ip(request) -> str | None:
    """The client's address, behind TRUSTED_PROXY_COUNT proxies (the same rule as lockouts)."""
    return get_client_ip_address(request) or None
