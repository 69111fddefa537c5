from .selectors import workspace_access, workspaces_for_user


def workspace_shell(request):
    """The current workspace (from the URL, else the last one used) and the switcher's list."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    name = (match.kwargs.get("workspace") if match else None) or request.session.get("workspace")
    current = workspace_access(user=user, name=name) if name else None
    return {
        "current_access": current,
        "current_workspace": current.workspace if current else None,
        "switcher_workspaces": workspaces_for_user(user=user).only("name", "display_name")[:50],
    }
