"""JSON API for who works on a project and how they get in: members with roles (admins invite
by email; a new teammate gets a one-time password to sign in with) and personal API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from userlens.errors import InvalidInput, NotFound
from userlens.model.project import ApiTokenInfo, Role, User
from userlens.web.auth import current_user, project_role
from userlens.web.deps import services_of
from userlens.web.params import PathId

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]
MEMBERS = "/api/projects/{project_id}/members"


class MemberOut(BaseModel):
    user_id: int
    email: str
    role: Role


class Invite(BaseModel):
    email: str = Field(max_length=320)
    role: Role = Role.MEMBER


class Invited(MemberOut):
    temporary_password: str | None = Field(
        None, description="for a new user only: shown once, to pass on; they change it"
    )


class TokenIn(BaseModel):
    label: str = Field("web", min_length=1, max_length=200)


class TokenOut(BaseModel):
    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class NewToken(BaseModel):
    id: int
    label: str
    token: str = Field(description="shown once; stored only hashed")


def _admin(request: Request, user: User, project_id: int) -> None:
    if project_role(request, user, project_id) is not Role.ADMIN:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "only admins manage members"}
        )


@router.get(MEMBERS, response_model=list[MemberOut], tags=["team"])
def list_members(request: Request, user: CurrentUser, project_id: PathId) -> list[MemberOut]:
    project_role(request, user, project_id)
    members = services_of(request).meta.members(project_id)
    return [MemberOut(user_id=u.id, email=u.email, role=r) for u, r in members]


@router.post(MEMBERS, response_model=Invited, status_code=201, tags=["team"])
def invite(request: Request, user: CurrentUser, project_id: PathId, body: Invite) -> Invited:
    """Add someone with a role (or change their role). Someone new to this server gets an
    account, and its one-time password comes back in the answer."""
    _admin(request, user, project_id)
    meta = services_of(request).meta
    password = None
    try:
        found = meta.user_by_email(body.email)
        if found is None:
            password = secrets.token_urlsafe(12)
            found = meta.create_user(body.email, password)
        meta.add_member(project_id, found.email, body.role)
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid", "detail": str(exc)}) from None
    return Invited(user_id=found.id, email=found.email, role=body.role, temporary_password=password)


@router.delete(MEMBERS + "/{user_id}", status_code=204, tags=["team"])
def remove(request: Request, user: CurrentUser, project_id: PathId, user_id: PathId) -> Response:
    _admin(request, user, project_id)
    try:
        services_of(request).meta.remove_member(project_id, user_id)
    except NotFound as exc:
        raise HTTPException(404, detail={"error": "not_found", "detail": str(exc)}) from None
    return Response(status_code=204)


def _token(info: ApiTokenInfo) -> TokenOut:
    return TokenOut(
        id=info.id,
        label=info.label,
        prefix=info.prefix,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
    )


@router.get("/api/me/tokens", response_model=list[TokenOut], tags=["session"])
def list_tokens(request: Request, user: CurrentUser) -> list[TokenOut]:
    """Your personal API tokens (their first characters only)."""
    return [_token(t) for t in services_of(request).meta.api_tokens(user.id)]


@router.post("/api/me/tokens", response_model=NewToken, status_code=201, tags=["session"])
def create_token(request: Request, user: CurrentUser, body: TokenIn) -> NewToken:
    """A new personal API token, for scripts: `Authorization: Bearer <token>`."""
    made = services_of(request).meta.create_api_token(user.email, body.label)
    return NewToken(id=made.id, label=made.label, token=made.secret)


@router.delete("/api/me/tokens/{token_id}", status_code=204, tags=["session"])
def delete_token(request: Request, user: CurrentUser, token_id: PathId) -> Response:
    try:
        services_of(request).meta.delete_api_token(user.id, token_id)
    except NotFound as exc:
        raise HTTPException(404, detail={"error": "not_found", "detail": str(exc)}) from None
    return Response(status_code=204)
