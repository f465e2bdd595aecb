// Package tap writes Test Anything Protocol (version 13) output.
//
// Copyright (C) 2026 The cairn authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The OCI runtime-tools validation programs import a TAP writer under the
// path github.com/mndrix/tap-go, which Debian does not package. This is
// cairn's own implementation of the part of that interface the programs
// call (New, Header, Ok, Pass, Fail, Skip, Todo, Diagnostic(f), YAML,
// AutoPlan), written from the TAP 13 format so that the validation suite
// builds from Debian packages alone (tests/oci-validation/build.sh places
// it in the build's GOPATH under that import path).
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is one TAP stream. Todo returns a copy sharing the counter whose next
// test point is marked TODO.
type T struct {
	w    io.Writer
	n    *int
	todo bool
}

// New returns a TAP writer on standard output. The plan is printed at the
// end only when AutoPlan is called (as the validation programs do).
func New() *T {
	n := 0
	return &T{w: os.Stdout, n: &n}
}

// Header prints the version line and, for a known number of tests, the plan.
func (t *T) Header(count int) {
	fmt.Fprintln(t.w, "TAP version 13")
	if count > 0 {
		fmt.Fprintf(t.w, "1..%d\n", count)
	}
}

// Ok prints one test point.
func (t *T) Ok(test bool, description string) {
	*t.n++
	status := "ok"
	if !test {
		status = "not ok"
	}
	line := fmt.Sprintf("%s %d - %s", status, *t.n, oneLine(description))
	if t.todo {
		line += " # TODO"
	}
	fmt.Fprintln(t.w, line)
}

// Pass and Fail are Ok(true, ...) and Ok(false, ...).
func (t *T) Pass(description string) { t.Ok(true, description) }
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip prints count skipped test points.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		*t.n++
		fmt.Fprintf(t.w, "ok %d # SKIP %s\n", *t.n, oneLine(description))
	}
}

// Todo returns a writer whose test points are marked TODO.
func (t *T) Todo() *T {
	c := *t
	c.todo = true
	return &c
}

// Diagnostic prints a message as TAP comment lines.
func (t *T) Diagnostic(message string) {
	for _, l := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		fmt.Fprintf(t.w, "# %s\n", l)
	}
}

// Diagnosticf is Diagnostic with a format.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints a TAP 13 YAML block for the previous test point. JSON is a
// subset of YAML 1.2, so the value is written as indented JSON.
func (t *T) YAML(message interface{}) error {
	b, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(t.w, "  ---\n  %s\n  ...\n", b)
	return nil
}

// AutoPlan prints the plan from the number of test points printed so far.
// The validation programs call it with defer, after their last test point.
func (t *T) AutoPlan() {
	fmt.Fprintf(t.w, "1..%d\n", *t.n)
}

// Count is the number of test points printed so far.
func (t *T) Count() int { return *t.n }

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
