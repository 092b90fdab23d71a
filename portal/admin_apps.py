from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin on the portal's own site class (a second factor for staff). In a module
    of its own: portal.apps may declare only the portal's AppConfig."""

    default_site = "portal.admin.site.PortalAdminSite"
