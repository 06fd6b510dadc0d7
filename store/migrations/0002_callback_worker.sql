-- What the callback worker needs beyond the tables of 0001.

-- An unsuccessful next_callback attempt is retried after a business-hours
-- backoff: the task is not offered to its agent before retry_at.
ALTER TABLE callback_tasks ADD COLUMN retry_at timestamptz;

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
