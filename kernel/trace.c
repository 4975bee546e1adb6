// SPDX-License-Identifier: GPL-2.0
/* reflinkfs trace events: their one definition (see trace.h). */
#include "reflinkfs.h"
#define CREATE_TRACE_POINTS
#include "trace.h"
