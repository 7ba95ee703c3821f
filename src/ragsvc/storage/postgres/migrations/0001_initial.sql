-- Sessions and what they hold. Records are JSON kept as bytes (bytea), not jsonb: text from
-- real PDFs holds NUL characters, which PostgreSQL's text and jsonb types refuse. A session's rows go with it (ON DELETE CASCADE).
-- `generation` grows by one with every committed change of a session's documents or
-- index: replicas key their cache of loaded indexes by it.
CREATE TABLE sessions (
    token_hash  text PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    touched_at  timestamptz NOT NULL,
    generation  bigint NOT NULL DEFAULT 0,
    index_meta  jsonb  -- {"embedder", "dim", "next_id"}; NULL until the first chunk
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE documents (
    token_hash  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    id          text NOT NULL,
    position    bigserial,  -- upload order
    body        bytea NOT NULL,  -- the Document, as JSON
    PRIMARY KEY (token_hash, id)
);

-- One row per chunk: its text and metadata, its vector (float32, little-endian) and its
-- BM25 terms, so a replica rebuilds the FAISS and BM25 indexes without re-embedding.
CREATE TABLE chunks (
    token_hash   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    id           bigint NOT NULL,
    document_id  text NOT NULL,
    chunk        bytea NOT NULL,  -- the Chunk, as JSON
    vector       bytea NOT NULL,
    tokens       text[] NOT NULL,
    PRIMARY KEY (token_hash, id)
);
CREATE INDEX chunks_document ON chunks (token_hash, document_id);

CREATE TABLE turns (
    token_hash  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    seq         bigserial,
    body        bytea NOT NULL,  -- the Turn, as JSON
    PRIMARY KEY (token_hash, seq)
);

-- Uploads waiting for their background ingest (read by whichever process runs it).
CREATE TABLE uploads (
    token_hash   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    document_id  text NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (token_hash, document_id)
);

-- "A live process is working on this": held while its holder renews it (database time).
CREATE TABLE leases (
    token_hash  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    key         text NOT NULL,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (token_hash, key)
);
CREATE INDEX leases_holder ON leases (holder);
