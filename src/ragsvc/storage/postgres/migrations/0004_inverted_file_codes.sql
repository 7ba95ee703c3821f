-- The inverted file a session keeps now holds each chunk's code and id besides its training
-- (about 70 bytes a chunk), so a load does not encode the vectors again. Not compressed:
-- the codes do not compress, and a load reads the file whole.
ALTER TABLE sessions ALTER COLUMN inverted_file SET STORAGE EXTERNAL;
