/* test-header.c compiled as C++17: see there. */
#include "test-header.c"
