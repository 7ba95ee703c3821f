"""Session lifecycle: create, inspect (its conversation too), delete."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from ragsvc.api.cookies import delete_session_cookie, set_session_cookie
from ragsvc.api.deps import SessionDep, StateDep, client_address, require_api_key
from ragsvc.api.problems import problem_responses
from ragsvc.core.schemas import SessionCreated, SessionInfo, TurnList
from ragsvc.runtime.app_state import AppState
from ragsvc.sessions.session_tokens import hash_token, new_token

router = APIRouter(tags=["sessions"])


async def start_session(request: Request, response: Response, state: AppState) -> SessionCreated:
    """Create a session (rate-limited per client address) and set its cookie."""
    settings = state.settings
    client = client_address(request)
    await state.limiter.check("session creation", client, settings.session_rate_per_minute)
    token = new_token()
    meta = await state.backends.store.create_session(
        hash_token(token), timedelta(seconds=settings.session_ttl)
    )
    set_session_cookie(response, token, settings, request)
    return SessionCreated(token=token, expires_at=meta.expires_at)


@router.post(
    "/sessions",
    status_code=201,
    dependencies=[Depends(require_api_key)],
    responses=problem_responses(507),
    summary="Create a session; the token is shown only here",
)
async def create_session(request: Request, response: Response, state: StateDep) -> SessionCreated:
    return await start_session(request, response, state)


@router.get("/sessions/current", summary="The calling session: expiry, documents, turns")
async def get_session(session: SessionDep, state: StateDep) -> SessionInfo:
    documents = await state.ingestion.documents(session.token_hash)
    turns = await state.backends.store.turns(session.token_hash, state.settings.history_turns)
    return SessionInfo(
        created_at=session.created_at,
        expires_at=session.expires_at,
        documents=list(documents.values()),
        turns=len(turns),
    )


@router.get("/sessions/current/turns", summary="The session's conversation, oldest first")
async def get_turns(session: SessionDep, state: StateDep) -> TurnList:
    """The questions and answers the session keeps (and answers follow-ups with)."""
    turns = await state.backends.store.turns(session.token_hash, state.settings.history_turns)
    return TurnList(turns=turns)


@router.delete("/sessions/current", status_code=204, summary="Delete the session and all its data")
async def delete_session(session: SessionDep, state: StateDep, response: Response) -> None:
    await state.backends.store.delete_session(session.token_hash)
    delete_session_cookie(response, state.settings)
