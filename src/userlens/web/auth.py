"""Who is calling the JSON API, and may they see this project.

Two ways in: a personal API token (`Authorization: Bearer …`, for scripts) or the web app's
session cookie. A cookie rides along with every request the browser makes, whoever asked for
it, so a request that changes anything must also carry the session's CSRF token in the
`X-CSRF-Token` header, which only the web app's own pages can read.
"""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

from userlens.model.project import Role, User, WebSession
from userlens.web.deps import services_of

SESSION_COOKIE = "userlens_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def web_session(request: Request) -> WebSession | None:
    secret = request.cookies.get(SESSION_COOKIE)
    return services_of(request).meta.web_session(secret) if secret else None


def current_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    if header:
        return _token_user(request, header)
    session = web_session(request)
    if session is None:
        raise HTTPException(
            401,
            detail={
                "error": "unauthenticated",
                "detail": "sign in, or send Authorization: Bearer <token>",
            },
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise HTTPException(
                403,
                detail={
                    "error": "csrf",
                    "detail": "a change made with the session cookie needs the X-CSRF-Token header",
                },
            )
    return session.user


def _token_user(request: Request, header: str) -> User:
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(
            401,
            detail={"error": "unauthenticated", "detail": "send Authorization: Bearer <token>"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = services_of(request).meta.user_for_api_token(secret.strip())
    if user is None:
        raise HTTPException(
            401,
            detail={"error": "invalid_token", "detail": "the API token is not valid"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def project_role(request: Request, user: User, project_id: int) -> Role:
    """The caller's role; 404 (not 403) when they may not see it, so ids reveal nothing."""
    role = services_of(request).meta.role_in(user, project_id)
    if role is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "no such project"})
    return role
