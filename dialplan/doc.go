// Package dialplan holds the FreeSWITCH XML an admin installs for stickyacd:
// the inbound extension (public/), the agent feature codes (default/) and
// sample agent phones (directory/). It has no Go code; its test checks the
// files keep to the contract of DESIGN.md §4.5.
package dialplan
