// Package eslgotest holds the integration tests of package esl: they drive
// real eslgo over TCP against the FreeSWITCH emulator esl/fstest.
//
// eslgo v1.5.0 has an internal data race, so these tests run without the
// race detector; their files carry the build constraint !race, so that
// `go test -race ./...` skips them instead of failing. Run them with:
//
//	go test -count=1 ./esl/internal/eslgotest/
//	go test -run '^$' -bench . ./esl/internal/eslgotest/
package eslgotest
