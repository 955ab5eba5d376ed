// newdelete-ops.cpp -- the one translation unit of newdelete-test that includes
// mimalloc-new-delete.h: it defines the program's replaceable operator new/delete.
#include <mimalloc-new-delete.h>
