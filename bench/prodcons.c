/* prodcons: producer/consumer, one thread allocates and another frees.
 *
 * Each pair has a producer thread that allocates objects of random small size
 * (16..1024, skewed towards small), stamps them and pushes them through a
 * bounded lock-free single-producer/single-consumer ring to a consumer thread,
 * which checks and frees them. Every free is therefore a free of an object
 * allocated by another thread (the pattern of xmalloc-test and of pipelined
 * servers); with a large queue many objects are in flight at once.
 */
#include "common.h"

typedef struct {
  _Alignas(64) _Atomic size_t head; /* next slot the producer fills */
  _Alignas(64) _Atomic size_t tail; /* next slot the consumer empties */
  _Alignas(64) void **buf;
  size_t mask;
  long long id;
  uint64_t consumed_bytes, produced_bytes;
} ring_t;

static long long items = 8000000;
static size_t maxsz = 1024;
static uint64_t seed = 1;

static void usage(void) {
  fprintf(stderr,
    "usage: prodcons [-p pairs] [-n items] [-q queue] [-m maxsize] [-s seed] [-x scale]\n"
    "  -p pairs    producer/consumer pairs (default 1; -t is accepted as threads = 2*pairs)\n"
    "  -n items    objects passed per pair (default 8m)\n"
    "  -q queue    ring capacity, a power of two (default 4096)\n"
    "  -m maxsize  largest object (default 1024; smallest is 16)\n"
    "  -s seed     PRNG seed; -x scale multiplies -n\n");
  exit(2);
}

static void *producer(void *arg) {
  ring_t *q = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)q->id + 1);
  size_t head = 0, tail = 0, cap = q->mask + 1;
  uint64_t bytes = 0;
  for (long long i = 0; i < items; i++) {
    size_t n = small_size(&r, 16, maxsz);
    void *p = xmalloc(n, "prodcons(producer)");
    stamp(p, n, 16);
    bytes += n;
    if (head - tail == cap) {
      unsigned spins = 0;
      while (head - (tail = atomic_load_explicit(&q->tail, memory_order_acquire)) == cap) backoff(&spins);
    }
    q->buf[head & q->mask] = p;
    head++;
    atomic_store_explicit(&q->head, head, memory_order_release);
  }
  q->produced_bytes = bytes;
  return NULL;
}

static void *consumer(void *arg) {
  ring_t *q = arg;
  size_t head = 0, tail = 0;
  uint64_t bytes = 0;
  for (long long i = 0; i < items; i++) {
    if (tail == head) {
      unsigned spins = 0;
      while ((head = atomic_load_explicit(&q->head, memory_order_acquire)) == tail) backoff(&spins);
    }
    void *p = q->buf[tail & q->mask];
    tail++;
    atomic_store_explicit(&q->tail, tail, memory_order_release);
    bytes += check_self(p, 16, maxsz, 16, "prodcons(consumer)");
    free(p);
  }
  q->consumed_bytes = bytes;
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "prodcons";
  long long pairs = 1, qcap = 4096;
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "p:t:n:q:m:s:x:h")) != -1) {
    switch (c) {
      case 'p': pairs = parse_num(optarg, "-p"); break;
      case 't': pairs = parse_num(optarg, "-t") / 2; if (pairs < 1) pairs = 1; break;
      case 'n': items = parse_num(optarg, "-n"); break;
      case 'q': qcap = parse_num(optarg, "-q"); break;
      case 'm': maxsz = (size_t)parse_num(optarg, "-m"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (pairs < 1 || qcap < 2 || (qcap & (qcap - 1)) != 0 || maxsz < 16) usage();
  items = scaled(items, scale);

  ring_t *rings = aligned_alloc(64, sizeof(ring_t) * (size_t)pairs);
  pthread_t *th = calloc((size_t)pairs * 2, sizeof(pthread_t));
  if (!rings || !th) bench_fail("allocation of the rings failed");
  for (long long i = 0; i < pairs; i++) {
    memset(&rings[i], 0, sizeof(ring_t));
    rings[i].buf = calloc((size_t)qcap, sizeof(void *));
    if (!rings[i].buf) bench_fail("allocation of a ring buffer failed");
    rings[i].mask = (size_t)qcap - 1;
    rings[i].id = i;
  }
  for (long long i = 0; i < pairs; i++) {
    xpthread_create(&th[2 * i], consumer, &rings[i]);
    xpthread_create(&th[2 * i + 1], producer, &rings[i]);
  }
  uint64_t bytes = 0;
  for (long long i = 0; i < pairs; i++) {
    pthread_join(th[2 * i], NULL);
    pthread_join(th[2 * i + 1], NULL);
    if (rings[i].consumed_bytes != rings[i].produced_bytes)
      bench_fail("pair %lld: produced %llu bytes but consumed %llu", i,
                 (unsigned long long)rings[i].produced_bytes, (unsigned long long)rings[i].consumed_bytes);
    bytes += rings[i].consumed_bytes;
    free(rings[i].buf);
  }
  free(rings); free(th);
  printf("prodcons: ok pairs=%lld items=%lld bytes=%llu\n", pairs, items * pairs, (unsigned long long)bytes);
  return 0;
}
