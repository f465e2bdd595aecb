/* store/: detached commit metadata, summary, remotes config (issue 5).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include "store/cairn-store.h"
