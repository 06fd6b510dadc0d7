package spool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

func TestUnreachable(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("create callback task of call c1: %w", err) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"reset", wrap(syscall.ECONNRESET), true},
		{"bad conn", wrap(driver.ErrBadConn), true},
		{"conn done", wrap(sql.ErrConnDone), true},
		{"pool closed under the call", wrap(closedPoolErr()), true},
		{"eof", wrap(io.EOF), true},
		{"unexpected eof", wrap(io.ErrUnexpectedEOF), true},
		{"deadline", wrap(context.DeadlineExceeded), true},
		{"cancelled", wrap(context.Canceled), true},
		{"i/o timeout", wrap(os.ErrDeadlineExceeded), true},
		{"dns", wrap(&net.DNSError{Err: "no such host", Name: "db"}), true},
		{"admin shutdown", wrap(&pq.Error{Code: pqerror.AdminShutdown}), true},
		{"starting up", wrap(&pq.Error{Code: pqerror.CannotConnectNow}), true},
		{"too many connections", wrap(&pq.Error{Code: pqerror.TooManyConnections}), true},
		{"connection failure", wrap(&pq.Error{Code: pqerror.ConnectionFailure}), true},
		{"foreign key", wrap(&pq.Error{Code: pqerror.ForeignKeyViolation}), false},
		{"unique", wrap(&pq.Error{Code: pqerror.UniqueViolation}), false},
		{"check", wrap(&pq.Error{Code: pqerror.CheckViolation}), false},
		{"syntax", wrap(&pq.Error{Code: pqerror.SyntaxError}), false},
		{"plain", errors.New("something else"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Unreachable(tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// closedPoolErr is the error database/sql gives once the pool is closed.
func closedPoolErr() error {
	db, err := sql.Open("postgres", "postgres://127.0.0.1:1/x?sslmode=disable")
	if err != nil {
		return err
	}
	db.Close()
	_, err = db.Exec("SELECT 1")
	return err
}
