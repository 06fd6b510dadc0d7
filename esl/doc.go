// Package esl is stickyacd's FreeSWITCH wire: an outbound event-socket
// server that hands each call to a Handler as a Session, and an inbound
// event-socket Client for registrations, channel states, api and chat.
//
// It is the only package that imports github.com/percipia/eslgo, and it is
// shaped around that library's v1.5.0 behaviour:
//
//   - eslgo's outbound listener cannot be closed, filtered or capped, so
//     Server accepts FreeSWITCH's connections itself (allowlist, session cap,
//     drain) and proxies each one to a single process-wide eslgo listener on
//     a private abstract unix socket. The proxy also sees FreeSWITCH close
//     the TCP connection, which eslgo does not report once linger is on.
//   - eslgo matches replies to commands by arrival order on shared channels,
//     so every command of a connection is serialised and a command whose
//     reply does not come in time poisons the connection (ErrPoisoned).
//     Commands that do not depend on one another (a session's set-up) are
//     written at once and their "+OK" replies taken in any order.
//   - eslgo calls event listeners in a goroutine per event, so nothing here
//     depends on event order: results are read from the completion event
//     that carries the Application-UUID we sent, and Event-Sequence tells a
//     stale event from a current one.
//
// eslgo's listener is shared by the process, so its own messages go to
// slog.Default() at Debug level, with whole frames left out (they carry
// channel variables, such as digits a caller keyed).
//
// No business logic lives here.
package esl
