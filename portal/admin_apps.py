from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin on the portal's own site class (a second factor for staff). In a module
    of its own: portal.apps may declare only the portal's AppConfig. The site class lives
    outside the portal.admin package, whose import registers models on this very site."""

    default_site = "portal.admin_site.PortalAdminSite"
