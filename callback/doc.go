// Package callback keeps the promises of step 03: steps 05 (assign) and 06
// (monitor, remind, reassign, escalate) of DESIGN.md §1, the completion
// rules, and the next_callback feature code, as plain Go over the small
// interfaces declared here (Store, Directory, Availability, Notifier,
// CallControl, Clock). It knows nothing of SQL, Redis or FreeSWITCH.
//
// Assignment (05): a known customer's task goes to the customer's first
// agent, online or not: it is that agent's customer. Any other task goes to
// the online agent with the fewest open tasks among those having the task's
// business type as a skill, ties to the longest idle; with nobody online it
// stays pending and is retried every Interval, and at once after Kick. A
// known customer with no first agent bound is served like an unknown one.
//
// Monitoring (06): a task not completed by its due time is chased every
// RemindEvery. A sticky task (known customer) reminds its agent; any other
// is reassigned to another least-loaded online agent with the skill, of the
// same team first (its agent is reminded instead when nobody else is
// online). Each chase raises the priority by PriorityStep. After
// MaxReminders chases the task is escalated to the team leader of the
// agent's team, who is then reminded every RemindEvery. Pending tasks (no
// agent online) are not escalated: there is no team to escalate within.
//
// Attempts (next_callback): an answered call lasting CompleteAfter completes
// the task; any other outcome counts an attempt and the task is offered
// again after RetryBackoff (doubling each attempt) inside BusinessHours. It
// is not chased before then. After MaxAttempts the task is cancelled with
// outcome "unreachable" rather than escalated: the agent did call, and a
// leader calling the same number again would not reach the customer either;
// the cancelled task stays visible in the API for follow-up.
//
// Concurrency: every action is taken under a lease on the task (Store);
// several workers share a store safely, and an operator's Complete or
// Reassign takes a task over from whoever holds it, whose own change is
// then refused with ErrLeaseLost.
package callback
