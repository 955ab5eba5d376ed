/* test-api.c compiled as C++: the STL allocator checks become real. */
#include "test-api.c"
