from django import template

from workspaces.roles import Perm

register = template.Library()


@register.filter
def can(access, perm: str) -> bool:
    """{% if current_access|can:"data.write" %}"""
    return bool(access) and access.allows(Perm(perm))
