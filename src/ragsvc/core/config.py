"""Settings: the only place that reads the environment.

Every variable carries the `RAGSVC_` prefix, except the OpenAI client's conventional
`OPENAI_BASE_URL` / `OPENAI_API_KEY`, accepted as aliases so existing setups work unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Validated service configuration; docs/settings.md lists every variable."""

    model_config = SettingsConfigDict(env_prefix="RAGSVC_", extra="ignore")

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("RAGSVC_HOST", "HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("RAGSVC_PORT", "PORT"))
    worker_port: int = Field(
        8001, ge=1, le=65535, description="`ragsvc worker`'s probes; PORT if only that is set"
    )
    data_dir: Path = Path("./data")
    store: Literal["disk", "postgres"] = Field(
        "disk", description="disk: under RAGSVC_DATA_DIR; postgres: RAGSVC_DATABASE_URL"
    )
    database_url: SecretStr | None = Field(
        None, description="postgresql:// URL (libpq form) for RAGSVC_STORE=postgres"
    )
    session_ttl: int = Field(24 * 3600, gt=0, description="seconds; sliding")
    max_upload_mb: float = Field(50, gt=0)
    cache_mb: float = Field(512, ge=0, description="memory for loaded session indexes")
    max_json_kb: int = Field(256, gt=0, description="largest request body other than uploads")
    min_free_mb: float = Field(64, ge=0, description="below it, /readyz answers 503")
    max_pages: int = Field(2000, gt=0)
    max_files: int = Field(20, gt=0, description="files per upload request")
    parse_workers: int = Field(
        2, ge=0, description="processes extracting PDF pages; 0: in the server process"
    )
    parse_timeout_s: float = Field(60, gt=0, description="wall time for one PDF's text")
    parse_memory_mb: int = Field(1024, ge=256, description="address space of a page worker")
    ocr: Literal["off", "auto"] = Field(
        "off", description="auto: pages with no text layer are read by Tesseract"
    )
    ocr_language: str = Field(
        "eng", pattern=r"^[a-z_]+(\+[a-z_]+)*$", description="Tesseract languages: eng, deu+eng"
    )
    ocr_dpi: int = Field(300, ge=72, le=600, description="resolution pages are OCR'd at")
    max_page_chars: int = Field(100_000, gt=0, description="characters of text per page")
    max_shared_content_mb: float = Field(
        512, gt=0, description="MB of content a PDF's pages may draw from streams they share"
    )
    max_document_chars: int = Field(10_000_000, gt=0, description="characters per document")
    max_chunks: int = Field(20_000, gt=0, description="chunks per document")
    max_session_documents: int = Field(200, gt=0, description="documents per session")
    max_session_chunks: int = Field(200_000, gt=0, description="chunks per session")
    max_session_mb: float = Field(2048, gt=0, description="MB of uploaded PDFs per session")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    cookie_secure: bool = Field(False, description="also Secure on plain HTTP")
    cookie_samesite: Literal["strict", "lax", "none"] = Field(
        "strict", description="none: sent to cross-site pages (CORS); then always Secure"
    )
    root_path: str = Field(
        "", pattern=r"^(/[^/]+)*$", description="the path a proxy serves ragsvc under (/rag)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins whose pages may call the API (CORS)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="addresses whose X-Forwarded-* headers are trusted"
    )

    embedder: Literal["wordllama", "e5", "openai", "st"] = "wordllama"
    st_model: str | None = Field(None, description="local sentence-transformers folder")
    embedding_model: str = "text-embedding-3-small"
    embedding_batch: int = Field(64, gt=0)
    generator: Literal["extractive", "openai", "llama"] = "extractive"
    llama_model: str | None = Field(None, description="path of a GGUF file")
    llama_threads: int = Field(2, ge=1)
    llama_context: int = Field(4096, ge=512)
    llm_model: str = "gpt-4o-mini"
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llm_max_tokens: int = Field(700, gt=0)
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("RAGSVC_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("RAGSVC_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    backend_timeout_s: float = Field(60, gt=0)
    backend_retries: int = Field(2, ge=0)

    chunk_size: int = Field(1500, ge=200)
    chunk_overlap: int = Field(250, ge=0)
    top_k: int = Field(5, ge=1, le=50)
    retrieval: Literal["hybrid", "dense", "bm25"] = "hybrid"
    document_cards: bool = True
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="1 disables diversification")
    max_question_chars: int = Field(2000, gt=0)
    max_history_chars: int = Field(
        50_000, gt=0, description="conversation a /v1 client may send along"
    )
    history_turns: int = Field(6, ge=0, le=50, description="turns kept per session")

    max_connections: int = Field(
        1000, ge=1, description="open connections; past it the longest idle one is closed"
    )
    max_connections_per_address: int = Field(
        64, ge=0, description="open connections of one client address (proxies exempt); 0: any"
    )
    header_timeout_s: float = Field(5, gt=0, description="a request's headers; 408 past it")
    body_timeout_s: float = Field(
        30, gt=0, description="a request's body, plus 1 s per 64 KiB it declares"
    )
    max_answers: int = Field(256, ge=1, description="answers generated at once; 503 past it")
    max_answers_per_session: int = Field(8, ge=1, description="429 past it")
    max_ingests: int = Field(64, ge=1, description="background ingests at once; 503 past it")
    max_ingests_per_session: int = Field(20, ge=1, description="429 past it")
    metrics: bool = Field(True, description="serve GET /metrics")
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_questions: bool = Field(False, description="log question text (it may be private)")
    ask_rate_per_minute: int = Field(60, ge=0, description="0 disables")
    session_rate_per_minute: int = Field(30, ge=0, description="per client IP; 0 disables")
    failed_auth_per_minute: int = Field(
        20, ge=0, description="unknown tokens per client IP before 429; 0 disables"
    )
    redis_url: str | None = Field(
        None,
        description="redis:// URL shared by replicas: answers and ingest progress resume on "
        "any of them, rate limits count across them; needed by `serve --workers N`",
    )
    ingest_queue: Literal["local", "redis"] = Field(
        "local",
        description="local: ?wait=false uploads are ingested by the replica that took them; "
        "redis: queued in Redis for `ragsvc worker` processes",
    )
    queue_wait_s: float = Field(
        600, gt=0, description="how long a queued upload waits for a worker before it fails"
    )
    drain_s: float = Field(
        30,
        ge=0,
        description="on SIGTERM, how long answers and background ingests in flight may go "
        "on before they are stopped (an answer ends with an error event saying to ask again)",
    )
    heartbeat_s: float = Field(15, gt=0)
    resume_window_s: float = Field(120, gt=0, description="answers kept for Last-Event-ID")
    resume_grace_s: float = Field(5, ge=0, description="wait for a reconnect before cancelling")
    sse_retry_ms: int = Field(1000, ge=0, description="reconnect delay hinted to clients")
    send_timeout_s: float = Field(30, gt=0)

    @field_validator("api_keys", "trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size // 2:
            raise ValueError("RAGSVC_CHUNK_OVERLAP must be less than half of RAGSVC_CHUNK_SIZE")
        if self.ingest_queue == "redis" and not (self.redis_url and self.store == "postgres"):
            # A worker on another host reads the upload and takes over its lease there.
            raise ValueError(
                "RAGSVC_INGEST_QUEUE=redis needs RAGSVC_REDIS_URL and RAGSVC_STORE=postgres"
            )
        if self.store == "postgres" and self.database_url is None:
            raise ValueError("RAGSVC_STORE=postgres needs RAGSVC_DATABASE_URL")
        uses_openai = "openai" in (self.embedder, self.generator)
        if uses_openai and not (self.openai_base_url or self.openai_api_key):
            raise ValueError(
                "an openai backend needs OPENAI_BASE_URL (local server) or OPENAI_API_KEY"
            )
        return self

    @model_validator(mode="after")
    def _worker_port_from_port(self) -> Settings:
        # Workers used to take PORT for their probes: one whose deployment sets only PORT
        # (the image sets PORT=8000) keeps them there. Unset, the worker's own port keeps
        # it off `ragsvc serve`'s on one host.
        if "port" in self.model_fields_set and "worker_port" not in self.model_fields_set:
            self.worker_port = self.port
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
