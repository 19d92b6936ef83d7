-- Full-text search reads the tsvector of every candidate chunk (up to 1,000 a query,
-- modules/knowledge/fulltext.ts). With PostgreSQL's default, a row over 2 kB had its
-- tsvector compressed and moved to the TOAST table, so every read of it was a TOAST index
-- lookup plus decompression, repeated for each word of the question: half of a search's
-- time at 100k chunks. Rows now stay whole in the heap up to a page (toast_tuple_target
-- 8160); only larger chunks are compressed or moved. Existing rows keep their layout until
-- rewritten (re-indexing the document, or VACUUM FULL chunks: docs/performance.md).
alter table chunks set (toast_tuple_target = 8160);
