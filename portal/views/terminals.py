from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from core.decorators import customer_required
from portal import selectors, services
from portal.models import Terminal


@require_GET
@customer_required
@never_cache
def terminal_list(request):
    terminals = selectors.terminal_list_for(user=request.user)
    return render(request, "portal/terminals.html", {"terminals": terminals})


@require_POST
@sensitive_post_parameters("code")
@customer_required
def terminal_activate(request, public_id):
    terminal = get_object_or_404(
        Terminal.objects.select_related("merchant"),
        public_id=public_id,
        merchant__user=request.user,
    )
    try:
        services.terminal_activate(
            terminal=terminal, user=request.user, code=request.POST.get("code", "")[:20]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Terminal %(tid)s is active. You can take payments now.") % {"tid": terminal.tid},
        )
    return redirect("portal:terminal-list")
