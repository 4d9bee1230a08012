-- Switchboard's PostgreSQL store, schema version 1. Every node of an installation
-- shares these tables; `switchboard migrate` (and every node at start, under an
-- advisory lock) applies this file once, recorded in switchboard_migrations.
--
-- Records are stored as the sled store stores them (`record`: JSON packed with LZ4, and
-- sealed when an encryption key is configured), beside plain columns for what is
-- searched, joined and shown: a DBA can query who sent what to whom and when without
-- reading a body. IDs are UUIDv7 (time-ordered), so the history tables are partitioned
-- by day on ranges of their own key: retention drops a whole partition (disk freed at
-- once), and a lookup by ID touches one partition per environment.

CREATE TABLE nodes (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    listen      text NOT NULL,
    version     text NOT NULL,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL
);

-- Generated IDs of configured sources, destinations and organizations, by kind and
-- name, so that every node and every CLI call sees the same IDs.
CREATE TABLE identities (
    kind  text NOT NULL,
    name  text NOT NULL,
    id    uuid NOT NULL UNIQUE,
    PRIMARY KEY (kind, name)
);

-- History: requests, logs, attempts and query answers. Each is partitioned by
-- environment (its retention is its own), then by day on ranges of its UUIDv7 key
-- (`switchboard::store::postgres::partitions` makes the days ahead and drops the expired
-- ones). Every level has a default partition for rows outside the days made.
CREATE TABLE requests (
    id           uuid NOT NULL,
    environment  text NOT NULL,
    received_at  timestamptz NOT NULL,
    source_id    uuid NOT NULL,
    record       bytea NOT NULL,
    PRIMARY KEY (id, environment)
) PARTITION BY LIST (environment);

CREATE TABLE logs (
    id              uuid NOT NULL,
    environment     text NOT NULL,
    request_id      uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    log_type        text NOT NULL,
    status          text NOT NULL,
    source_id       uuid NOT NULL,
    destination_id  uuid NOT NULL,
    data_model      text NOT NULL,
    event_type      text NOT NULL,
    patient_id      text,
    record          bytea NOT NULL,
    PRIMARY KEY (id, environment)
) PARTITION BY LIST (environment);
-- History search walks newest first within an environment; the other filters have
-- their own indexes when selective (source, destination, patient, the rare statuses).
CREATE INDEX logs_by_environment ON logs (environment, id DESC);
CREATE INDEX logs_by_source ON logs (source_id, id DESC);
CREATE INDEX logs_by_destination ON logs (destination_id, id DESC);
CREATE INDEX logs_by_patient ON logs (patient_id, id DESC) WHERE patient_id IS NOT NULL;
CREATE INDEX logs_by_rare_status ON logs (status, id DESC) WHERE status IN ('FAILED', 'FILTERED');
CREATE INDEX logs_by_request ON logs (request_id);

CREATE TABLE attempts (
    log_id       uuid NOT NULL,
    environment  text NOT NULL,
    number       integer NOT NULL,
    record       bytea NOT NULL,
    PRIMARY KEY (log_id, number, environment)
) PARTITION BY LIST (environment);

-- A query's full answer from its destination.
CREATE TABLE responses (
    log_id       uuid NOT NULL,
    environment  text NOT NULL,
    body         bytea NOT NULL,
    PRIMARY KEY (log_id, environment)
) PARTITION BY LIST (environment);

DO $$
DECLARE
    history text;
    environment text;
BEGIN
    FOREACH history IN ARRAY ARRAY['requests', 'logs', 'attempts', 'responses'] LOOP
        FOREACH environment IN ARRAY ARRAY['Development', 'Staging', 'Production'] LOOP
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%L) PARTITION BY RANGE (%I)',
                history || '_' || lower(environment), history, environment,
                CASE WHEN history IN ('requests', 'logs') THEN 'id' ELSE 'log_id' END);
            EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT',
                history || '_' || lower(environment) || '_default',
                history || '_' || lower(environment));
        END LOOP;
    END LOOP;
END
$$;

-- One row per delivery queue: FIFO per (destination, source, lane); the lane is 0
-- unless the destination keeps a queue per patient. The row is also the queue's lease:
-- the node delivering it, until when. A node delivers only under an unexpired lease of
-- its own and renews it; another takes the queue over once it has expired. Items are
-- numbered under the row's lock (next_seq), so their order is their commit order.
CREATE TABLE queues (
    destination_id  uuid NOT NULL,
    source_id       uuid NOT NULL,
    lane            bigint NOT NULL,
    next_seq        bigint NOT NULL DEFAULT 1,
    leased_by       uuid,
    lease_until     timestamptz,
    PRIMARY KEY (destination_id, source_id, lane)
);

CREATE TABLE queue_items (
    destination_id  uuid NOT NULL,
    source_id       uuid NOT NULL,
    lane            bigint NOT NULL,
    seq             bigint NOT NULL,
    log_id          uuid NOT NULL,
    -- A poll destination's batch lease (ms since the epoch), shared by every node.
    lease_until_ms  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (destination_id, source_id, lane, seq)
);
CREATE INDEX queue_items_by_log ON queue_items (destination_id, log_id);

-- Deliveries set aside after repeated permanent refusals, with where they queued.
CREATE TABLE quarantine (
    destination_id  uuid NOT NULL,
    log_id          uuid NOT NULL,
    source_id       uuid NOT NULL,
    lane            bigint NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (destination_id, log_id)
);

-- Paused, verified and the like, per destination.
CREATE TABLE destination_states (
    destination_id  uuid PRIMARY KEY,
    record          bytea NOT NULL
);

CREATE TABLE uploads (
    environment  text NOT NULL,
    id           uuid NOT NULL,
    record       bytea NOT NULL,
    PRIMARY KEY (environment, id)
);

CREATE TABLE audit (
    id      uuid PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    log_id  uuid,
    record  bytea NOT NULL
);

-- Source sessions (access and refresh tokens), by the token's SHA-256.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,
    source_id   uuid NOT NULL,
    family      uuid,
    expires     timestamptz NOT NULL,
    record      bytea NOT NULL
);
CREATE INDEX sessions_by_family ON sessions (family) WHERE family IS NOT NULL;

-- Refresh-token families ended by a reuse.
CREATE TABLE ended_families (
    family  uuid PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now()
);

-- The JWT flow's spent assertion IDs, until their assertion expires.
CREATE TABLE spent_jtis (
    client_id  text NOT NULL,
    jti        text NOT NULL,
    expires    timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- API keys, OAuth clients, admin tokens and their revocations, as records.
CREATE TABLE credentials (
    kind    text NOT NULL,
    id      text NOT NULL,
    record  bytea NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE composer_history (
    id      uuid PRIMARY KEY,
    owner   text NOT NULL,
    record  bytea NOT NULL
);

-- The platform's numeric legacy IDs: one sequence for every node.
CREATE SEQUENCE legacy_numbers;

-- Small settings of the store itself (seal check, format notes).
CREATE TABLE meta (
    key    text PRIMARY KEY,
    value  bytea NOT NULL
);
