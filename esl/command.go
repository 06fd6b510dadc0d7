package esl

import (
	"strconv"
	"strings"
)

// command is one ESL command. BuildMessage has the shape of eslgo's
// command.Command, which appends the blank line that ends a command.
type command interface {
	BuildMessage() string
}

// rawCommand is a one-line command such as "myevents plain" or
// "api uuid_kill …".
type rawCommand string

func (c rawCommand) BuildMessage() string { return string(c) }

// maxHeaderArg is the longest application argument sent as a header; a
// longer one goes in a body, as does one with a line break.
const maxHeaderArg = 4096

// executeCommand runs an application on the call, in the dialect real
// FreeSWITCH was captured with (lower-case headers, no "loops").
type executeCommand struct {
	App, Arg string
	// EventUUID comes back as Application-UUID on the completion event.
	EventUUID string
}

func (c executeCommand) BuildMessage() string {
	var b strings.Builder
	b.Grow(96 + len(c.App) + len(c.Arg) + len(c.EventUUID))
	b.WriteString("sendmsg\ncall-command: execute\nexecute-app-name: ")
	b.WriteString(c.App)
	body := len(c.Arg) > maxHeaderArg || strings.ContainsAny(c.Arg, "\r\n")
	if c.Arg != "" && !body {
		b.WriteString("\nexecute-app-arg: ")
		b.WriteString(c.Arg)
	}
	// event-lock keeps executions in the order they were sent; without it
	// back-to-back applications start together and complete out of order.
	b.WriteString("\nevent-lock: true")
	if c.EventUUID != "" {
		b.WriteString("\nEvent-UUID: ")
		b.WriteString(c.EventUUID)
	}
	if body {
		b.WriteString("\ncontent-type: text/plain\ncontent-length: ")
		b.WriteString(strconv.Itoa(len(c.Arg)))
		b.WriteString("\n\n")
		b.WriteString(c.Arg)
	}
	return b.String()
}

// bgapiCommand runs an api command in the background under a Job-UUID we
// chose, so the BACKGROUND_JOB result can be waited for before the reply
// tells us its id.
type bgapiCommand struct {
	Cmd, JobUUID string
}

func (c bgapiCommand) BuildMessage() string {
	return "bgapi " + c.Cmd + "\nJob-UUID: " + c.JobUUID
}
