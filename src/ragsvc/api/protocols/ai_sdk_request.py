"""The body the Vercel AI SDK's `useChat` posts (`DefaultChatTransport`: `{id, messages,
trigger, messageId}`, messages of UI parts), accepted by `POST /ask` beside ragsvc's own
`{question}`: the last user message is the question, the user/assistant pairs before it the
conversation, which replaces the session's stored turns for that request (the page holds
the conversation, as an OpenAI client does). Also: how a refusal reads to that SDK, whose
transport shows a failed response's body as the error's message."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from starlette.requests import Request

from ragsvc.api.protocols.conversation import turns_of
from ragsvc.core.errors import InvalidInput
from ragsvc.core.schemas import AskRequest, DocumentIds, Turn

AI_SDK = "ai-sdk"  # the `format` that names the SDK's protocol


class UIPart(BaseModel):
    """A part of a UI message; only text parts are read (sources, data, files are not)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = ""
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(part.text or "" for part in self.parts if part.type == "text")


class AiSdkChatRequest(BaseModel):
    """What `useChat` sends by default; `top_k` and `document_ids` may come along through
    the transport's `body` option, as on /ask."""

    model_config = ConfigDict(extra="allow", title="AiSdkChatRequest")
    id: str | None = Field(None, description="the chat's id (not used)")
    messages: list[UIMessage] = Field(min_length=1, description="the last is the question")
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = None  # noqa: N815 (the SDK's name)
    top_k: int | None = Field(None, ge=1, le=50, strict=True)
    document_ids: DocumentIds | None = None

    def question_and_history(self) -> tuple[AskRequest, list[Turn]]:
        """The question as ragsvc asks it, and the conversation before it."""
        last = self.messages[-1]
        if last.role != "user" or not last.text.strip():
            raise InvalidInput("the last message must be a user message with text")
        asked = AskRequest(question=last.text, top_k=self.top_k, document_ids=self.document_ids)
        return asked, turns_of(self.messages[:-1])


def _shape(body: Any) -> str:
    return "messages" if isinstance(body, dict) and "messages" in body else "question"


def _untagged(body: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Errors located as in the body (`question`), not under the union's tag
    (`question.question`)."""
    try:
        return handler(body)
    except ValidationError as exc:
        errors: list[Any] = [{**error, "loc": error["loc"][1:]} for error in exc.errors()]
        for error in errors:
            error.pop("msg", None)
            error.pop("url", None)
        raise ValidationError.from_exception_data(exc.title, errors) from None


AskBody = Annotated[
    Annotated[AskRequest, Tag("question")] | Annotated[AiSdkChatRequest, Tag("messages")],
    Discriminator(_shape),
    WrapValidator(_untagged),
]


def asked(body: AskRequest | AiSdkChatRequest) -> tuple[AskRequest, list[Turn] | None]:
    """The question, and the conversation the client sent (None: the session's own)."""
    if isinstance(body, AiSdkChatRequest):
        return body.question_and_history()
    return body, None


def wants_plain_errors(request: Request) -> bool:
    """A request for the AI SDK's stream that does not ask for problem+json: the SDK's
    transport throws `new Error(await response.text())`, so its refusals read best as the
    problem's sentence alone (useChat's `error.message`)."""
    accept = request.headers.get("accept", "")
    return request.query_params.get("format") == AI_SDK and "json" not in accept


def plain_for_ai_sdk(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI problem responses that may also be the sentence alone (wants_plain_errors)."""
    plain = {
        "text/plain": {
            "schema": {
                "type": "string",
                "description": "with format=ai-sdk, unless JSON is accepted: the problem's detail",
            }
        }
    }
    return {
        status: {**response, "content": {**response.get("content", {}), **plain}}
        for status, response in responses.items()
    }
