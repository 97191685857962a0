-- Rewrite trace_batches sorted by key (run by Store from time to time, see Store._sort_trace_batches): sorted,
-- each row group covers a narrow key range and DuckDB's min/max per row group skips all but one of them, and
-- the keys' small deltas bit-pack to ~1.5 bytes.
CREATE TABLE trace_batches_sorted (
    trace_key UINTEGER NOT NULL,
    ingest_batch BIGINT NOT NULL
);
INSERT INTO trace_batches_sorted SELECT * FROM trace_batches ORDER BY trace_key, ingest_batch;
DROP TABLE trace_batches;
ALTER TABLE trace_batches_sorted RENAME TO trace_batches;
