#pragma once
// Included first by every header of this folder, which are parts of the parser kernel
// (parser_kernel.cpp). That file is compiled once per instruction set, each time into its own
// namespace MLOPS_PARSER_KERNEL; everything in these headers lives in that namespace (and an
// anonymous one), so that the copies never meet at link time. Include them only from
// parser_kernel.cpp.
#ifndef MLOPS_PARSER_KERNEL
#error "include only from parser_kernel.cpp, compiled with -DMLOPS_PARSER_KERNEL=<namespace>"
#endif
