-- The PDFs of ingested documents, kept so a cited page can be shown as an image. Turns
-- need no column for the sources and quotes they now keep: their body is the Turn's JSON.
CREATE TABLE pdfs (
    token_hash   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    document_id  text NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (token_hash, document_id)
);
