/* Differentiable ops: em_ag_* mirror the core ops (same arguments and results)
 * and record a graph node when grad mode is on and an input requires grad. The
 * bindings call these; backward formulas call them too, so that create_graph
 * builds a graph of the backward pass. One header per op family. */
#ifndef EM_AG_FUNCTIONS_H
#define EM_AG_FUNCTIONS_H

#include "fn_conv.h"
#include "fn_copy.h"
#include "fn_ctc.h"
#include "fn_elementwise.h"
#include "fn_embedding_bag.h"
#include "fn_fold.h"
#include "fn_grid_sample.h"
#include "fn_index.h"
#include "fn_linalg.h"
#include "fn_loss.h"
#include "fn_norm.h"
#include "fn_pad.h"
#include "fn_rnn.h"
#include "fn_pool.h"
#include "fn_reduce.h"
#include "fn_shape.h"
#include "fn_upsample.h"
#include "fn_view.h"

#endif
