"""`{{ money|money }}` or `{{ amount|money:currency }}`: amounts in templates, by billing.money.format_money."""

from __future__ import annotations

from django import template

from billing.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(value, currency=None):
    if value is None or value == "":
        return ""
    return format_money(value, currency)
