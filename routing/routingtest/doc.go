// Package routingtest holds in-memory fakes of the interfaces package
// routing declares — Directory, Presence, CallControl, TaskSink,
// CallRecords, Notifier, Clock — for unit tests of routing and for anyone
// who needs the flow without FreeSWITCH, Redis or PostgreSQL. Every fake
// is safe for concurrent use and records what it was asked to do.
//
// Failure injection: Directory, Presence, Tasks and Records take
// Fail(method, err); the named method returns err from then on.
// Latency: Directory, Presence and Call advance a *Clock on each call, so
// timings in a trace are exact and repeatable.
package routingtest
