/* (issue 5) */
#include "config.h"
#include "store/store-private.h"
