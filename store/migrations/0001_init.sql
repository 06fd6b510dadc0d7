-- The whole schema of stickyacd's first release. Integrity lives here, not
-- only in Go: every enum is a CHECK, every reference a foreign key.

CREATE TABLE business_types (
    code         text PRIMARY KEY CHECK (code <> ''),
    -- NULL once the type is no longer configured: it stays for the tasks and
    -- skills that still name it but leaves the IVR menu.
    digit        int UNIQUE CHECK (digit BETWEEN 1 AND 9),
    name         text NOT NULL,
    callback_due interval NOT NULL CHECK (callback_due > interval '0'),
    priority     int NOT NULL DEFAULT 0
);

CREATE TABLE teams (
    id         text PRIMARY KEY CHECK (id <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id              text PRIMARY KEY CHECK (id <> ''),
    name            text NOT NULL,
    extension       text NOT NULL CHECK (extension <> ''),
    team_id         text NOT NULL REFERENCES teams (id),
    role            text NOT NULL CHECK (role IN ('agent', 'leader')),
    -- Deferred so one import can name a backup defined further down the file.
    backup_agent_id text REFERENCES agents (id) DEFERRABLE INITIALLY DEFERRED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_backup_not_self CHECK (backup_agent_id <> id),
    -- Deferred so one import can swap two agents' extensions.
    CONSTRAINT agents_extension_key UNIQUE (extension) DEFERRABLE INITIALLY DEFERRED,
    -- Step 014 calls "the" team leader: at most one per team. Deferred so one
    -- import can hand the role over.
    CONSTRAINT agents_one_leader_per_team EXCLUDE USING btree (team_id WITH =)
        WHERE (role = 'leader') DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX agents_team ON agents (team_id);

CREATE TABLE agent_skills (
    agent_id      text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    business_type text NOT NULL REFERENCES business_types (code),
    PRIMARY KEY (agent_id, business_type)
);

CREATE INDEX agent_skills_business_type ON agent_skills (business_type);

CREATE TABLE customers (
    id              text PRIMARY KEY CHECK (id <> ''),
    name            text NOT NULL DEFAULT '',
    -- Hex HMAC-SHA256 of the canonical ID number under the configured key;
    -- the number itself is never stored. Deferred so one import can correct
    -- two customers' swapped numbers.
    id_hash         text CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    id_last4        text CHECK (id_last4 ~ '^[0-9]{3}[0-9X]$'),
    first_agent_id  text REFERENCES agents (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The call whose step 021 created the customer; makes that creation
    -- idempotent per call.
    created_by_call text UNIQUE,
    CONSTRAINT customers_id_hash_key UNIQUE (id_hash) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT customers_id_hash_with_last4 CHECK ((id_hash IS NULL) = (id_last4 IS NULL))
);

CREATE INDEX customers_first_agent ON customers (first_agent_id);

CREATE TABLE customer_phones (
    -- Normalised by routing/callerid: national significant number, or "+"
    -- and the international number.
    phone       text PRIMARY KEY CHECK (phone ~ '^\+?[0-9]{1,15}$'),
    customer_id text NOT NULL REFERENCES customers (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX customer_phones_customer ON customer_phones (customer_id);

CREATE TABLE phone_bindings (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL,
    customer_id text NOT NULL REFERENCES customers (id),
    how         text NOT NULL CHECK (how IN ('import', 'ivr_id_match', 'new_customer')),
    call_uuid   text,
    at          timestamptz NOT NULL DEFAULT now(),
    -- A binding made during a call names that call; an import names none.
    CONSTRAINT phone_bindings_call CHECK ((how = 'import') = (call_uuid IS NULL))
);

CREATE INDEX phone_bindings_phone ON phone_bindings (phone, at);

CREATE TABLE callback_tasks (
    id            bigserial PRIMARY KEY,
    -- One promise per call: the idempotency key of step 04 and of the spool replay.
    call_uuid     text NOT NULL UNIQUE CHECK (call_uuid <> ''),
    customer_id   text REFERENCES customers (id),
    caller        text NOT NULL,
    business_type text NOT NULL REFERENCES business_types (code),
    agent_id      text REFERENCES agents (id),
    team_id       text REFERENCES teams (id),
    priority      int NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'assigned', 'in_progress', 'completed', 'cancelled')),
    due_at        timestamptz NOT NULL,
    attempts      int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    reminders     int NOT NULL DEFAULT 0 CHECK (reminders >= 0),
    escalated     boolean NOT NULL DEFAULT false,
    abandoned     boolean NOT NULL DEFAULT false,
    outcome       text,
    lease_owner   text,
    lease_until   timestamptz,
    next_check_at timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CONSTRAINT callback_tasks_lease CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CONSTRAINT callback_tasks_assigned_has_agent
        CHECK (status NOT IN ('assigned', 'in_progress') OR agent_id IS NOT NULL),
    CONSTRAINT callback_tasks_completed_at
        CHECK (completed_at IS NULL OR status IN ('completed', 'cancelled'))
);

-- The worker's claim: open tasks whose next check is due, most urgent first.
CREATE INDEX callback_tasks_due ON callback_tasks (next_check_at, priority DESC)
    WHERE status IN ('pending', 'assigned', 'in_progress');

-- Step 05's least-loaded agent and the API's open_tasks count.
CREATE INDEX callback_tasks_open_per_agent ON callback_tasks (agent_id)
    WHERE status IN ('pending', 'assigned', 'in_progress');

CREATE INDEX callback_tasks_customer ON callback_tasks (customer_id);

CREATE TABLE callback_events (
    id       bigserial PRIMARY KEY,
    task_id  bigint NOT NULL REFERENCES callback_tasks (id),
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL CHECK (kind IN ('created', 'assigned', 'reminded', 'reassigned',
                                           'escalated', 'attempted', 'completed', 'cancelled')),
    agent_id text REFERENCES agents (id),
    note     text NOT NULL DEFAULT ''
);

CREATE INDEX callback_events_task ON callback_events (task_id, at);

-- The history of a promise is evidence: it is only ever appended to.
CREATE FUNCTION callback_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'callback_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER callback_events_no_update_delete
    BEFORE UPDATE OR DELETE ON callback_events
    FOR EACH ROW EXECUTE FUNCTION callback_events_append_only();

CREATE TRIGGER callback_events_no_truncate
    BEFORE TRUNCATE ON callback_events
    FOR EACH STATEMENT EXECUTE FUNCTION callback_events_append_only();

-- Call records are the log that explains a call, so they carry no foreign
-- keys: a trace must be stored even when it names a row that a failure kept
-- from being written (a spooled task, a customer whose creation failed).
CREATE TABLE calls (
    uuid        text PRIMARY KEY CHECK (uuid <> ''),
    caller      text NOT NULL,
    customer_id text,
    entry       text NOT NULL CHECK (entry IN ('known', 'id', 'unknown')),
    outcome     text NOT NULL CHECK (outcome IN ('bridged', 'callback', 'abandoned', 'failed')),
    agent_id    text,
    task_id     bigint,
    trace       jsonb NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz
);

CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_customer ON calls (customer_id, started_at);
