/* Umbrella header for the C core: everything a binding or backend needs. */
#ifndef EM_EMBER_H
#define EM_EMBER_H

#include "alloc.h"
#include "copy.h"
#include "dispatch.h"
#include "dtype.h"
#include "error.h"
#include "iter.h"
#include "tensor.h"
#include "view.h"

#endif
