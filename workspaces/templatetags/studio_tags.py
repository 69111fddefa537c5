from django import template

from workspaces.roles import Perm

register = template.Library()


@register.filter
def can(access, perm: str) -> bool:
    """{% if current_access|can:"data.write" %}"""
    return bool(access) and access.allows(Perm(perm))


@register.filter
def markdown(text: str):
    """{{ asset.description|markdown }}: sanitized HTML."""
    from core.markdown import render_markdown

    return render_markdown(text)
