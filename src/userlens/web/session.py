"""Signing in from the web app: first run, sign-in and out, the signed-in user, passwords."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from userlens.errors import AlreadyExists, InvalidInput
from userlens.model.project import User, WebSession
from userlens.web.auth import SESSION_COOKIE, current_user, web_session
from userlens.web.deps import services_of

router = APIRouter(tags=["session"])
CurrentUser = Annotated[User, Depends(current_user)]
LIFETIME = timedelta(days=14)


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class Setup(BaseModel):
    needed: bool


class Me(BaseModel):
    id: int
    email: str
    is_admin: bool
    csrf_token: str | None = Field(
        None, description="send it as X-CSRF-Token with changes made through the cookie"
    )


def _json_only(request: Request) -> None:
    """Sign-in takes JSON only: a form on another site cannot post JSON without the
    browser asking this server first, so no page elsewhere can sign a visitor in."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(
            415, detail={"error": "unsupported_media_type", "detail": "send application/json"}
        )


def _signed_in(request: Request, response: Response, user: User) -> Me:
    session = services_of(request).meta.create_web_session(user, lifetime=LIFETIME)
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _me(user, session)


def _me(user: User, session: WebSession | None) -> Me:
    return Me(
        id=user.id,
        email=user.email,
        is_admin=user.is_admin,
        csrf_token=session.csrf_token if session else None,
    )


@router.get("/api/setup", response_model=Setup)
def setup_needed(request: Request) -> Setup:
    """Whether this server still needs its first admin (a fresh install)."""
    return Setup(needed=services_of(request).meta.user_count() == 0)


@router.post("/api/setup", response_model=Me, status_code=201, dependencies=[Depends(_json_only)])
def first_run(request: Request, response: Response, body: Credentials) -> Me:
    """Create the first admin on a fresh server and sign them in; 409 once one exists."""
    meta = services_of(request).meta
    try:
        user = meta.create_first_admin(body.email, body.password)
    except AlreadyExists as exc:
        raise HTTPException(409, detail={"error": "already_set_up", "detail": str(exc)}) from None
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid", "detail": str(exc)}) from None
    return _signed_in(request, response, user)


@router.post("/api/session", response_model=Me, dependencies=[Depends(_json_only)])
def sign_in(request: Request, response: Response, body: Credentials) -> Me:
    """Sign in with email and password: sets the session cookie."""
    user = services_of(request).meta.authenticate(body.email, body.password)
    if user is None:
        raise HTTPException(
            401, detail={"error": "invalid_credentials", "detail": "wrong email or password"}
        )
    return _signed_in(request, response, user)


@router.delete("/api/session", status_code=204)
def sign_out(request: Request, response: Response, user: CurrentUser) -> None:
    """End this browser's session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        services_of(request).meta.end_web_session(secret)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/api/me", response_model=Me)
def me(request: Request, user: CurrentUser) -> Me:
    """The signed-in user (and, for the web app, its CSRF token)."""
    return _me(user, web_session(request))


@router.post("/api/me/password", status_code=204)
def change_password(
    request: Request, response: Response, user: CurrentUser, body: PasswordChange
) -> None:
    """Change the caller's password; every browser session of theirs ends, this one is
    signed in again."""
    meta = services_of(request).meta
    try:
        meta.change_password(user.id, body.current_password, body.new_password)
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid", "detail": str(exc)}) from None
    if request.cookies.get(SESSION_COOKIE):
        _signed_in(request, response, user)
