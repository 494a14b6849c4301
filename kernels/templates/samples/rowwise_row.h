// Sample stand-in for the generated row slot: AK_SAMPLE_ROW 0 Softmax, 1 LogSoftmax,
// 2 LayerNormalization, 3 RMSNormalization.
#pragma once

#if AK_SAMPLE_ROW <= 1
#include "rowwise_softmax.h"
#elif AK_SAMPLE_ROW == 2
#include "rowwise_layer_norm.h"
#else
#include "rowwise_rms_norm.h"
#endif
