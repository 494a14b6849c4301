// Sample stand-in for the generated shape slot of the GEMM-epilogue template: MatMul's
// shapes (the generator picks matmul_problem.h or gemm_problem.h).
#pragma once

#include "matmul_problem.h"
