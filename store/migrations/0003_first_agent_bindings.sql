-- Who made an agent a customer's first agent during a call (step 021 binding
-- the answering agent to a known customer who had none), as phone_bindings
-- does for phones. Imports set first agents without an audit row: the file
-- is the record.
CREATE TABLE first_agent_bindings (
    id                bigserial PRIMARY KEY,
    customer_id       text NOT NULL REFERENCES customers (id),
    agent_id          text NOT NULL REFERENCES agents (id),
    previous_agent_id text REFERENCES agents (id),
    call_uuid         text NOT NULL CHECK (call_uuid <> ''),
    at                timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX first_agent_bindings_customer ON first_agent_bindings (customer_id, at);
