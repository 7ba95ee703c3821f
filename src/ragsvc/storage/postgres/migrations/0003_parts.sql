-- A session's index as one row per document (its part): the chunks, vectors and BM25 terms
-- in one columnar record (storage/part_codec.py), which a replica loads with a few array
-- views instead of parsing a JSON row per chunk. Sessions written before keep their
-- `chunks` rows, read as they are, until their next change rewrites them as parts.
CREATE TABLE parts (
    token_hash   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    document_id  text NOT NULL,
    newest       bigint NOT NULL,  -- the id of its newest chunk: a part is written once
    data         bytea NOT NULL,
    PRIMARY KEY (token_hash, document_id)
);
-- Not compressed: most of a part is float32 vectors, which do not compress, and a load
-- reads every part whole.
ALTER TABLE parts ALTER COLUMN data SET STORAGE EXTERNAL;
-- Past APPROXIMATE_FROM chunks, the inverted file trained and empty (as FAISS serializes
-- it) and the list of each chunk, chunks in id order (int32, little-endian): a load neither
-- trains it again nor assigns the vectors to lists (how many vectors it was trained on is
-- in index_meta).
ALTER TABLE sessions ADD COLUMN inverted_file bytea, ADD COLUMN lists bytea;
