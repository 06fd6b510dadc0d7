-- What the callback worker needs beyond the tables of 0001.

-- An unsuccessful next_callback attempt is retried after a business-hours
-- backoff: the task is not offered to its agent before retry_at.
ALTER TABLE callback_tasks ADD COLUMN retry_at timestamptz;

-- The worker's claim, shaped exactly like its query so a batch is read in
-- index order and the scan stops at the LIMIT (0001's index lacked the id
-- tie-break, so a batch of equal next checks had to be sorted in full), and
-- without leased rows, which concurrent workers would otherwise step over.
DROP INDEX callback_tasks_due;
CREATE INDEX callback_tasks_claim ON callback_tasks (next_check_at, priority DESC, id)
    WHERE status IN ('pending', 'assigned') AND lease_owner IS NULL;

-- Open tasks per agent (step 05's least-loaded, the API's open_tasks): the
-- predicate is the count's own, so the count can be answered from the index.
DROP INDEX callback_tasks_open_per_agent;
CREATE INDEX callback_tasks_open_per_agent ON callback_tasks (agent_id)
    WHERE status IN ('assigned', 'in_progress');

-- The rescuer's scan: leases that may have expired.
CREATE INDEX callback_tasks_leased ON callback_tasks (lease_until)
    WHERE lease_owner IS NOT NULL;

-- next_callback: an agent's top task.
CREATE INDEX callback_tasks_agent_top ON callback_tasks (agent_id, priority DESC, due_at)
    WHERE status = 'assigned';

-- Webhook deliveries, written in the same statement as the event they
-- announce so a notice is never lost to a crash between the two, and
-- delivered at least once by callback/webhook (several instances share the
-- table: a delivery is claimed by pushing next_attempt_at forward).
CREATE TABLE callback_outbox (
    id              bigserial PRIMARY KEY,
    task_id         bigint NOT NULL REFERENCES callback_tasks (id),
    -- Sent as the Idempotency-Key header, the same on every retry.
    idempotency_key text NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    body            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz
);

CREATE INDEX callback_outbox_due ON callback_outbox (next_attempt_at)
    WHERE delivered_at IS NULL;

CREATE INDEX callback_outbox_delivered ON callback_outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;
