-- Every log an audit entry names (an MRN search shows many), so the trail of one log
-- is found through an index on any node.
ALTER TABLE audit ADD COLUMN logs uuid[] NOT NULL DEFAULT '{}';
UPDATE audit SET logs = ARRAY[log_id] WHERE log_id IS NOT NULL;
CREATE INDEX audit_by_log ON audit USING gin (logs);
CREATE INDEX audit_by_action ON audit (action, id DESC);

-- Uploaded files' bytes as each node stores them (sealed when a key is set), by
-- environment and content hash: a file uploaded through one node downloads through
-- any, which keeps a copy under its data directory once read.
CREATE TABLE upload_files (
    environment  text NOT NULL,
    sha256       text NOT NULL,
    bytes        bytea NOT NULL,
    PRIMARY KEY (environment, sha256)
);
