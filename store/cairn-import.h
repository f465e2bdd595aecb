/* store/: tar and OCI/docker-archive import, tar export (issue 6).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store.h"
