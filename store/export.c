/* (issue 6) */
#include "config.h"
#include "store/store-private.h"
