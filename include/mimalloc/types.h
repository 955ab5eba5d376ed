/* ----------------------------------------------------------------------------
mimalloc/types.h -- the internal build constants of mimalloc 2.1.7 that its test
programs (test-api.c, test-api-fill.c) read, with the same names and values.

Not installed: the Rust core has its own definitions (src/types.rs); this header
only lets C test programs written for mimalloc 2.1.7 compile against this tree and
test the right thing. The build defines MI_DEBUG, MI_SECURE, MI_PADDING,
MI_TRACK_VALGRIND and MI_TRACK_ASAN for the tests from the CMake options, exactly
as the library is configured; without them the values follow NDEBUG as in C.
-----------------------------------------------------------------------------*/
#pragma once
#ifndef MIMALLOC_TYPES_H
#define MIMALLOC_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* debug level: 0 = none, 2 = assertions and fills, 3 = expensive invariant checks */
#if !defined(MI_DEBUG)
#if !defined(NDEBUG) || defined(_DEBUG)
#define MI_DEBUG 2
#else
#define MI_DEBUG 0
#endif
#endif

#if !defined(MI_SECURE)
#define MI_SECURE 0
#endif

#if !defined(MI_TRACK_VALGRIND)
#define MI_TRACK_VALGRIND 0
#endif
#if !defined(MI_TRACK_ASAN)
#define MI_TRACK_ASAN 0
#endif
#if !defined(MI_TRACK_ETW)
#define MI_TRACK_ETW 0
#endif
#define MI_TRACK_ENABLED (MI_TRACK_VALGRIND || MI_TRACK_ASAN || MI_TRACK_ETW)

/* padding: a canary after each block (debug, secure, tracking) unless MI_PADDING=0 */
#if !defined(MI_PADDING) && (MI_SECURE>=3 || MI_DEBUG>=1 || MI_TRACK_ENABLED)
#define MI_PADDING 1
#endif
#if !defined(MI_PADDING)
#define MI_PADDING 0
#endif

/* fill patterns of debug builds */
#define MI_DEBUG_UNINIT     (0xD0)
#define MI_DEBUG_FREED      (0xDF)
#define MI_DEBUG_PADDING    (0xDE)

/* sizes (64-bit) */
#define MI_INTPTR_SHIFT          (3)
#define MI_INTPTR_SIZE           (1<<MI_INTPTR_SHIFT)
#define MI_MAX_ALIGN_SIZE        16
#define MI_SEGMENT_SLICE_SHIFT   (13 + MI_INTPTR_SHIFT)               /* 64 KiB */
#define MI_SEGMENT_SHIFT         (9 + MI_SEGMENT_SLICE_SHIFT)         /* 32 MiB */
#define MI_SMALL_PAGE_SHIFT      (MI_SEGMENT_SLICE_SHIFT)             /* 64 KiB */
#define MI_MEDIUM_PAGE_SHIFT     (3 + MI_SMALL_PAGE_SHIFT)            /* 512 KiB */
#define MI_SEGMENT_SIZE          ((size_t)1 << MI_SEGMENT_SHIFT)
#define MI_SEGMENT_ALIGN         MI_SEGMENT_SIZE
#define MI_SEGMENT_MASK          ((uintptr_t)(MI_SEGMENT_ALIGN - 1))
#define MI_SEGMENT_SLICE_SIZE    ((size_t)1 << MI_SEGMENT_SLICE_SHIFT)
#define MI_SMALL_PAGE_SIZE       ((size_t)1 << MI_SMALL_PAGE_SHIFT)
#define MI_MEDIUM_PAGE_SIZE      ((size_t)1 << MI_MEDIUM_PAGE_SHIFT)
#define MI_SMALL_OBJ_SIZE_MAX    (MI_SMALL_PAGE_SIZE/4)               /* 16 KiB */
#define MI_MEDIUM_OBJ_SIZE_MAX   (MI_MEDIUM_PAGE_SIZE/4)              /* 128 KiB */
#define MI_MEDIUM_OBJ_WSIZE_MAX  (MI_MEDIUM_OBJ_SIZE_MAX/MI_INTPTR_SIZE)
#define MI_LARGE_OBJ_SIZE_MAX    (MI_SEGMENT_SIZE/2)                  /* 16 MiB */
#define MI_LARGE_OBJ_WSIZE_MAX   (MI_LARGE_OBJ_SIZE_MAX/MI_INTPTR_SIZE)
#define MI_BIN_HUGE              (73U)
#define MI_BIN_FULL              (MI_BIN_HUGE+1)

/* alignments above this get a dedicated huge segment (and no offset support) */
#define MI_BLOCK_ALIGNMENT_MAX   (MI_SEGMENT_ALIGN >> 1)              /* 16 MiB */

/* the largest request that can ever succeed */
#define MI_MAX_ALLOC_SIZE        ((size_t)65536 * ((size_t)UINT32_MAX - 1))

#if MI_PADDING
#define MI_PADDING_SIZE          (8)
#else
#define MI_PADDING_SIZE          (0)
#endif

#endif /* MIMALLOC_TYPES_H */
