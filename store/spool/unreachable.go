package spool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Unreachable reports whether err means PostgreSQL could not be reached or
// dropped the connection (refused, reset, timed out, shutting down, out of
// connection slots), as opposed to the server refusing the task itself
// (a constraint or data error), which spooling would not cure.
//
// A context that ended counts as unreachable too: the insert may or may
// not have landed, and replaying it later is harmless (idempotent by call
// UUID) whereas dropping it could lose the promise.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow,
			pqerror.TooManyConnections, pqerror.ConfigurationLimitExceeded:
			return true
		}
		return pqErr.Code.Class() == pqerror.ClassConnectionException
	}
	var netErr net.Error
	for _, target := range []error{
		driver.ErrBadConn, sql.ErrConnDone, io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		context.DeadlineExceeded, context.Canceled,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	if errors.As(err, &netErr) {
		return true
	}
	// A pool closed under a call (a hard stop) cannot take the task
	// either; database/sql does not export that error.
	return strings.Contains(err.Error(), "sql: database is closed")
}
