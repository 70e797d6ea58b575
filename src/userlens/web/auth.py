"""Who is calling the JSON API, and may they see this project."""

from __future__ import annotations

from fastapi import HTTPException, Request

from userlens.model.project import Role, User
from userlens.web.deps import services_of


def current_user(request: Request) -> User:
    header = request.headers.get("authorization", "")
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
