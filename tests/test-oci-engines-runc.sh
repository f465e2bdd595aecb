#!/bin/bash
# tests/test-oci-engines-runc.sh — tests/test-oci-engines.sh with runc as
# the runtime: proves the engine harness itself (podman, containerd, the
# sandbox) on every run of the suite, whatever the state of cairn-launch.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
OCI_RUNTIME=runc exec bash "$(dirname "$0")/test-oci-engines.sh" "$@"
