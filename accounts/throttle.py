"""Sign-in throttling for passwords (the sign-in page and MLflow's Basic auth), SECURITY.md 39.

Wrong passwords are counted per (user name, client address) and per client address, each failure
keeping the count for STUDIO_SIGNIN_WINDOW seconds more; at STUDIO_SIGNIN_MAX_FAILURES (or STUDIO_SIGNIN_MAX_FAILURES_PER_ADDRESS)
that pair (or address) is locked for STUDIO_SIGNIN_LOCKOUT seconds, during which no password is
checked at all, the right one included. A right password clears its pair's count. The counts live in
the default cache, which every web process shares (the database, or Redis with CACHE_URL); with the
database cache two failures at the same instant may count once, Redis counts each.

A user is never locked from every address: that would let anyone lock the administrator out.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.core.cache import cache


class SignInThrottled(Exception):
    """Too many wrong passwords: no password is checked for `retry_after` seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        if retry_after >= 120:
            wait = f"{math.ceil(retry_after / 60)} minutes"
        else:
            wait = f"{retry_after} second{'' if retry_after == 1 else 's'}"
        super().__init__(f"Too many failed sign-in attempts. Try again in {wait}.")


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    """(cache key, failure limit) for the pair and for the address."""
    pair = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
    return [
        (f"signin:pair:{pair}", settings.STUDIO_SIGNIN_MAX_FAILURES),
        (
            f"signin:address:{hashlib.sha256(address.encode()).hexdigest()}",
            settings.STUDIO_SIGNIN_MAX_FAILURES_PER_ADDRESS,
        ),
    ]


def check(username: str, address: str) -> None:
    """SignInThrottled while the pair or the address is locked."""
    now = time.time()
    locks = cache.get_many([f"{key}:locked" for key, _ in _keys(username, address)])
    until = max(locks.values(), default=0)
    if until > now:
        raise SignInThrottled(max(1, math.ceil(until - now)))


def record_failure(username: str, address: str) -> None:
    for key, limit in _keys(username, address):
        window = settings.STUDIO_SIGNIN_WINDOW
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # the count expired between the two calls
            cache.set(key, 1, timeout=window)
            failures = 1
        cache.touch(key, window)  # a backend's incr may keep or reset the expiry; this sets it
        if failures >= limit:
            lockout = settings.STUDIO_SIGNIN_LOCKOUT
            cache.set(f"{key}:locked", time.time() + lockout, timeout=lockout)
            cache.delete(key)


def record_success(username: str, address: str) -> None:
    pair_key, _ = _keys(username, address)[0]
    cache.delete(pair_key)


def authenticate(request, *, username: str, password: str):
    """django.contrib.auth.authenticate behind the throttle: the user, or None for wrong credentials;
    SignInThrottled (before any password is checked) while locked out."""
    address = client_address(request)
    check(username, address)
    user = django_authenticate(request, username=username, password=password)
    if user is None:
        record_failure(username, address)
    else:
        record_success(username, address)
    return user
