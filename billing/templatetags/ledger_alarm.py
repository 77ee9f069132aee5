"""The admin's red banner while the last ledger verification found differences (templates/admin/base_site.html)."""

from django import template

from billing.models import LedgerVerification

register = template.Library()


@register.inclusion_tag("billing/admin/ledger_alarm.html", takes_context=True)
def ledger_alarm(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"verification": None}
    last = LedgerVerification.objects.filter(ok__isnull=False).order_by("-id").first()
    return {"verification": last if last is not None and not last.ok else None}
