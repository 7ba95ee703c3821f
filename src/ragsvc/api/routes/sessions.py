"""Session lifecycle: create, inspect (its conversation too), delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ragsvc.api.cookies import delete_session_cookie, set_session_cookie
from ragsvc.api.deps import SessionDep, StateDep, client_address, require_api_key
from ragsvc.api.problems import header, problem_responses
from ragsvc.core.schemas import SessionCreated, SessionInfo, TurnList

router = APIRouter(tags=["sessions"])


@router.post(
    "/sessions",
    status_code=201,
    dependencies=[Depends(require_api_key)],
    responses={
        201: {
            "description": "the session; its cookie is set too",
            "headers": {"Set-Cookie": header("the session's cookie")},
        },
        **problem_responses(507),
    },
    summary="Create a session; the token is shown only here",
)
async def create_session(request: Request, response: Response, state: StateDep) -> SessionCreated:
    created = await state.sessions.create(client_address(request))
    set_session_cookie(response, created.token, state.settings, request)
    return SessionCreated(token=created.token, expires_at=created.meta.expires_at)


@router.get("/sessions/current", summary="The calling session: expiry, documents, turns")
async def get_session(session: SessionDep, state: StateDep) -> SessionInfo:
    documents = await state.ingestion.documents(session.token_hash)
    turns = await state.sessions.turns(session.token_hash)
    return SessionInfo(
        created_at=session.created_at,
        expires_at=session.expires_at,
        documents=list(documents.values()),
        turns=len(turns),
    )


@router.get("/sessions/current/turns", summary="The session's conversation, oldest first")
async def get_turns(session: SessionDep, state: StateDep) -> TurnList:
    """The questions and answers the session keeps (and answers follow-ups with)."""
    return TurnList(turns=await state.sessions.turns(session.token_hash))


@router.delete("/sessions/current", status_code=204, summary="Delete the session and all its data")
async def delete_session(session: SessionDep, state: StateDep, response: Response) -> None:
    await state.sessions.delete(session.token_hash)
    delete_session_cookie(response, state.settings)
