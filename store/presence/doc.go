// Package presence keeps live agent availability in Redis and hands agents
// to calls atomically: it implements routing.Presence (DESIGN.md §3).
//
// # Model
//
// Each agent has a status set by the agent or an admin (logged_out,
// available, break), a state set by calls (idle, reserved, ringing,
// in_call, wrap_up), a registered flag, the time of the last state change,
// an idle-since time, a count of consecutive no-answers, a reason and a
// ready-at time for the short delays after a failed attempt. An agent is
// online when available and registered (or when Options.RequireRegistration
// is off), and offerable when online, idle and past its ready-at time.
//
// Idle-since orders "longest idle first". It moves at the end of a call or
// wrap-up and, as mod_callcenter's last_offered_call does, when the agent's
// phone turns a call down (busy, no answer, rejected, unreachable): an
// always-busy phone must not head the order and take every caller's first
// tries. A reservation released before any ringing leaves it alone.
//
// Every state but idle carries an expiry (the reservation TTL, the wrap-up,
// or Options.MaxCallDuration as a backstop for calls whose end was missed),
// and every expiry is judged by the Redis server clock inside the scripts:
// there are no timers, so an agent can never stay reserved after a crash of
// the instance holding it.
//
// # Scripts and keys
//
// Every change is one Lua script run with EVALSHA (EVAL when Redis lost its
// script cache). A reservation over a whole chain is one script call. The
// transitions after it (Ringing, Answered, Release, Hangup) are
// compare-and-set on the call UUID: a late or repeated event for a call the
// agent has moved on from changes nothing and returns ErrNotOwner, which
// callers may ignore.
//
// All keys share the hash tag {Options.Prefix}, so the scripts run on Redis
// Cluster: scripts name the index keys and build agent keys themselves,
// all in the one slot. Everything of one deployment then lives on one
// shard, which is what lets a reservation look at a whole chain atomically.
//
//	{prefix}:agents        set of every agent presence has heard of
//	{prefix}:agent:<id>    the agent: one MessagePack array (see lua/lib.lua)
//	{prefix}:idle          zset of offerable agents by idle-since (ms)
//	{prefix}:pending       zset of online agents by the time their
//	                       reservation, call, wrap-up or delay ends (ms)
//	{prefix}:live:<uuid>   short-lived set of live calls during Reconcile
//
// Reserve reads only the chain's agents. ReserveAny reads the idle index;
// before doing so it folds back the pending agents whose time has come, so
// its cost is O(log n) in the number of agents plus one step per expiry
// since the previous call.
//
// # Open callback tasks
//
// OnlineAmong gives the callback worker online agents, longest idle first;
// the worker counts their open tasks in PostgreSQL and combines the two.
// The counts are computed there, not mirrored in Redis: PostgreSQL is the
// source of truth for tasks, and a mirror would drift on every crash
// between the two writes.
//
// # Where presence comes from
//
// SetStatus (feature codes, HTTP), SetRegistered and ExternalCall (the
// FreeSWITCH event client), the call flow (routing.Presence), and Reconcile,
// which rebuilds registrations and calls from what FreeSWITCH reports at
// start-up and every few seconds after. Statuses exist only here: should
// Redis lose its data, agents are logged out until they log in again.
package presence
