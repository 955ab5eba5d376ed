//! loom models of the protocols threads race on.
//!
//! Built only with `RUSTFLAGS="--cfg loom" cargo test --lib models::` (see
//! doc/verification.md). Each model runs the allocator's own protocol functions, which
//! are generic over `sync::AtomicWord`, on loom's checked atomics; loom then explores
//! every interleaving and every value the C++11 memory model lets a load return, up to
//! a bound on preemptions (`LOOM_MAX_PREEMPTIONS`, default 3 here). The memory the
//! protocols hand around (a block's link word, a heap's keys, a segment, an arena
//! block) is a `loom::cell::UnsafeCell`: loom fails the model if two threads touch one
//! without a happens-before edge between them, which is how "no use after the memory
//! is handed on" is checked. Blocks, segments and arena blocks are plain numbers: no
//! real memory is involved.
//!
//! | model | protocol (code) | invariant |
//! |---|---|---|
//! | `thread_free_push_and_collect` | remote `tf_push`, owner `tf_take` (page.rs) | every pushed block is collected exactly once; the owner reads links and reuses blocks only after the freer is done with them |
//! | `delayed_free_with_full_queue` | `tf_push`/`tf_delayed_done`, `delayed_push`/`delayed_take` (heap.rs), `tf_use_delayed` for to-full, unfull and heap deletion | every freed block reaches the owner exactly once, via the page or the heap's delayed list; no freer touches the heap after the owner set `NeverDelayedFree` and released it |
//! | `abandoned_map_mark_search_claim` | `Levels::mark`, `claim_chunk`, `AbandonedCursor::claim_next_in`, `tidy` (segment_map.rs) | each abandoned segment is claimed exactly once and its claimer sees the abandoner's writes; a set bit is never hidden by a cleared summary bit; the count returns to 0 |
//! | `abandoned_segment_with_a_free_into_it` | the abandoned map with `tf_push`/`tf_take`: abandon, free into the segment (take it over or push remotely), search and collect | the block is freed exactly once; one owner of the segment at a time |
//! | `arena_bitmap_claim_release` | `try_find_claim`, `claim`, `unclaim` (bitmap.rs) | no block is owned by two threads at once; a new owner sees the previous owner's writes; all bits return to their initial state |

use crate::bitmap;
use crate::page;
use crate::segment_map::{AbandonedCursor, Levels};
use crate::state::Delayed;
use crate::sync::{AtomicWord, Ordering};
use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicUsize;
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering::Relaxed};

/// The models' word: loom's atomic, in one of two flavours. `Plain` is loom's atomic
/// as it is; its loads can return any value the memory model allows (stale ones
/// included). `RmwLoads` does every load as `fetch_add(0)`, which always reads the
/// latest value: it sees fewer values, but it works around a gap in loom 0.7's DPOR
/// (tokio-rs/loom#166, #392: a thread's relaxed load followed by its CAS is never moved
/// before another thread's load, so e.g. a remote free is never run before the owner's
/// first look at the list). Every model runs with both.
trait Word: AtomicWord + Send + Sync + 'static {
    fn new(v: usize) -> Self;
}

impl Word for AtomicUsize {
    fn new(v: usize) -> Self {
        AtomicUsize::new(v)
    }
}

struct RmwLoads(AtomicUsize);

impl AtomicWord for RmwLoads {
    fn load(&self, order: Ordering) -> usize {
        // (a load's ordering is valid for an RMW too, except Release/AcqRel, which no
        // load has)
        self.0.fetch_add(0, order)
    }
    fn swap(&self, val: usize, order: Ordering) -> usize {
        self.0.swap(val, order)
    }
    fn compare_exchange_weak(
        &self,
        c: usize,
        n: usize,
        s: Ordering,
        f: Ordering,
    ) -> Result<usize, usize> {
        self.0.compare_exchange_weak(c, n, s, f)
    }
    fn fetch_or(&self, val: usize, order: Ordering) -> usize {
        self.0.fetch_or(val, order)
    }
    fn fetch_and(&self, val: usize, order: Ordering) -> usize {
        self.0.fetch_and(val, order)
    }
    fn fetch_add(&self, val: usize, order: Ordering) -> usize {
        self.0.fetch_add(val, order)
    }
    fn fetch_sub(&self, val: usize, order: Ordering) -> usize {
        self.0.fetch_sub(val, order)
    }
    fn yield_now() {
        thread::yield_now()
    }
}

impl Word for RmwLoads {
    fn new(v: usize) -> Self {
        RmwLoads(AtomicUsize::new(v))
    }
}

/// Executions that reached a situation a model is about, by model (see the tests).
static SEEN: [StdAtomic; 7] = [const { StdAtomic::new(0) }; 7];

/// Run a model with both flavours of `Word`, then check that the situations it is
/// about were reached in some execution (`reached`: index into `SEEN`, what it counts),
/// so that a model loom stopped exploring fails instead of passing vacuously.
fn check(name: &str, plain: fn(), rmw: fn(), reached: &[(usize, &str)]) {
    explore(&format!("{name} (loads)"), plain);
    explore(&format!("{name} (loads as RMW)"), rmw);
    for &(i, what) in reached {
        assert!(SEEN[i].load(Relaxed) > 0, "{name}: never seen: {what}");
    }
}

/// Run `f` under loom with our default preemption bound; returns the number of
/// executions explored (and prints it, for the record in doc/verification.md).
fn explore(name: &str, f: impl Fn() + Sync + Send + 'static) -> usize {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    let bound = b.preemption_bound;
    // (a std atomic of this call's own: it counts executions and takes no part in them)
    let runs = std::sync::Arc::new(StdAtomic::new(0));
    let counter = runs.clone();
    b.check(move || {
        counter.fetch_add(1, Relaxed);
        f()
    });
    let n = runs.load(Relaxed);
    eprintln!("loom model {name}: {n} executions explored (preemption bound {bound:?})");
    n
}

/// Memory a protocol hands between threads: one cell per block/segment, holding the
/// id of the thread that last wrote it.
struct Cells(Vec<UnsafeCell<usize>>);

impl Cells {
    fn new(n: usize) -> Self {
        Cells((0..n).map(|_| UnsafeCell::new(0)).collect())
    }
    fn write(&self, i: usize, v: usize) {
        // SAFETY: a loom cell: loom checks that no other thread accesses it concurrently.
        self.0[i].with_mut(|p| unsafe { *p = v })
    }
    fn read(&self, i: usize) -> usize {
        // SAFETY: as in `write`.
        self.0[i].with(|p| unsafe { *p })
    }
}

/// Blocks are numbered 1..; block `i` sits at "address" `i * 4`, so the two low bits of
/// a list word stay free for the delayed-free state, as real blocks are 8-aligned.
fn addr(i: usize) -> usize {
    i * 4
}
fn index(a: usize) -> usize {
    a / 4
}

/// Walk a list whose link words are `links` (a block's cell holds the next address),
/// reusing every block as the owner would (a write), and return the block numbers.
fn drain(links: &Cells, mut head: usize, owner: usize) -> Vec<usize> {
    let mut got = Vec::new();
    while head != 0 {
        let i = index(head);
        got.push(i);
        head = links.read(i);
        links.write(i, owner);
        assert!(got.len() <= links.0.len(), "a cycle in a free list");
    }
    got
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

/// Two threads free a block each into a page another thread owns (`free.rs`'s remote
/// path: link the block, CAS it onto `xthread_free`), while the owner collects the list
/// (`page.rs`'s `thread_free_collect`: take the whole list with a CAS) and reuses what
/// it took. Invariant: after everyone is done, the owner has collected each block
/// exactly once, and (loom's race check) it read each link and reused each block only
/// after the freer's writes to it happened-before.
#[test]
fn thread_free_push_and_collect() {
    check(
        "thread_free_push_and_collect",
        thread_free_push_and_collect_model::<AtomicUsize>,
        thread_free_push_and_collect_model::<RmwLoads>,
        &[(0, "the owner collected a block before the freers were done")],
    );
}

fn thread_free_push_and_collect_model<A: Word>() {
    let links = Arc::new(Cells::new(3));
    // A page in the state of one not in the full queue.
    let xtf = Arc::new(A::new(Delayed::NoDelayedFree as usize));
    let freers: Vec<_> = [1usize, 2]
        .into_iter()
        .map(|b| {
            let (links, xtf) = (links.clone(), xtf.clone());
            thread::spawn(move || {
                // the freer owns the block until its push succeeds
                links.write(b, 100 + b);
                let delayed = page::tf_push(&*xtf, addr(b), |next| links.write(b, next));
                assert!(!delayed, "a page not in the full queue took a delayed free");
            })
        })
        .collect();
    // The owner collects while the frees happen.
    let mut got = drain(&links, page::tf_take(&*xtf), 0);
    SEEN[0].fetch_add(!got.is_empty() as usize, Relaxed);
    for t in freers {
        t.join().unwrap();
    }
    got.extend(drain(&links, page::tf_take(&*xtf), 0));
    assert_eq!(sorted(got), vec![1, 2], "a block lost or collected twice");
    assert_eq!(
        xtf.load(Relaxed),
        Delayed::NoDelayedFree as usize,
        "collection changed the delayed-free state"
    );
}

/// The delayed-free state machine with a page moving to and from the full queue. The
/// owner moves its page to the full queue (`to_full`: `UseDelayedFree`, then collects
/// the page), takes the heap's delayed list and, if that held a block, frees it as
/// `free_delayed_block` does (`UseDelayedFree` to wait out a delayed push in progress,
/// then the page's list, then `NoDelayedFree`: `unfull`, or the state of an owned page
/// that was not full), and finally deletes the heap (`NeverDelayedFree`, as
/// `heap_delete`/abandonment do), after which it releases the heap's memory (a write to
/// the heap's keys). Two threads free one block each meanwhile, the way `free.rs` does:
/// `tf_push`; if that asked for a delayed free, push on the heap's delayed list (which
/// reads the heap's keys to encode the link) and `tf_delayed_done`.
///
/// Invariant: every freed block reaches the owner exactly once (from the page's list or
/// the heap's delayed list), and no freer touches the heap after the owner's
/// `NeverDelayedFree` returned (loom's race check on the keys cell).
#[test]
fn delayed_free_with_full_queue() {
    check(
        "delayed_free_with_full_queue",
        delayed_free_with_full_queue_model::<AtomicUsize>,
        delayed_free_with_full_queue_model::<RmwLoads>,
        &[(1, "a free went through the heap's delayed list")],
    );
}

fn delayed_free_with_full_queue_model<A: Word>() {
    let links = Arc::new(Cells::new(3));
    let heap_keys = Arc::new(Cells::new(1));
    let xtf = Arc::new(A::new(Delayed::NoDelayedFree as usize));
    let heap_delayed = Arc::new(A::new(0));
    let freers: Vec<_> = [1usize, 2]
        .into_iter()
        .map(|b| {
            let (links, keys) = (links.clone(), heap_keys.clone());
            let (xtf, heap_delayed) = (xtf.clone(), heap_delayed.clone());
            thread::spawn(move || {
                links.write(b, 100 + b);
                if page::tf_push(&*xtf, addr(b), |next| links.write(b, next)) {
                    SEEN[1].fetch_add(1, Relaxed);
                    crate::heap::delayed_push(&*heap_delayed, addr(b), |next| {
                        let _key = keys.read(0);
                        links.write(b, next);
                    });
                    page::tf_delayed_done(&*xtf);
                }
            })
        })
        .collect();
    let mut got = Vec::new();
    // to_full (which, as 2.1.7, goes on even if it gave up waiting for a delayed
    // free in progress), then its collection of the page
    page::tf_use_delayed(&*xtf, Delayed::UseDelayedFree, false);
    got.extend(drain(&links, page::tf_take(&*xtf), 0));
    // the owner's heap collection: the delayed list; for a block from it,
    // `free_delayed_block`: wait out a delayed push in progress (`UseDelayedFree`, which
    // may give up), collect the page, free the block, and so unfull the page
    // (`NoDelayedFree`, also the state it leaves a page in that was not full)
    let delayed = drain(&links, crate::heap::delayed_take(&*heap_delayed), 0);
    if !delayed.is_empty() {
        page::tf_use_delayed(&*xtf, Delayed::UseDelayedFree, false);
    }
    got.extend(delayed);
    got.extend(drain(&links, page::tf_take(&*xtf), 0));
    assert!(page::tf_use_delayed(&*xtf, Delayed::NoDelayedFree, false));
    // heap deletion: no more delayed frees, and none in progress, from here on
    assert!(page::tf_use_delayed(
        &*xtf,
        Delayed::NeverDelayedFree,
        false
    ));
    got.extend(drain(&links, crate::heap::delayed_take(&*heap_delayed), 0));
    heap_keys.write(0, 0xdead);
    for t in freers {
        t.join().unwrap();
    }
    // After the freers are done, the rest is on the page's list (never on the heap's).
    assert_eq!(
        heap_delayed.load(Relaxed),
        0,
        "a delayed free after NeverDelayedFree"
    );
    got.extend(drain(&links, page::tf_take(&*xtf), 0));
    assert_eq!(sorted(got), vec![1, 2], "a block lost or collected twice");
    assert_eq!(xtf.load(Relaxed), Delayed::NeverDelayedFree as usize);
}

/// The abandoned map (segment_map.rs) on a map of 128 chunks (two level-0 words, one
/// word per summary level). The level-1 summary bit of word 1 starts stale (set over
/// an empty word, as a claim leaves it), so a search's `tidy` races with a marker.
/// Thread A abandons segments 3 and 70 (writes them, then marks them). Thread B
/// searches from chunk 0 (so it looks at the stale summary) and claims what it finds. Thread C frees into segment 70 and
/// so tries to claim it; if it gets it, it puts it back (marks it again). Finally the
/// main thread checks the summary bits and claims whatever is left.
///
/// Invariant: each mark is matched by exactly one claim; a claimer sees the segment as
/// its abandoner left it (loom's race check and the value read); every set level-0 bit
/// has its summary bits set; the count returns to 0.
/// The abandoned map of the model, and the segments it stands for.
struct Map<A> {
    l0: [A; 2],
    l1: [A; 1],
    l2: [A; 1],
    count: A,
    segs: Cells,
}

impl<A> Map<A> {
    fn levels(&self) -> Levels<'_, A> {
        Levels {
            l0: &self.l0,
            l1: &self.l1,
            l2: &self.l2,
            count: &self.count,
        }
    }
}

#[test]
fn abandoned_map_mark_search_claim() {
    check(
        "abandoned_map_mark_search_claim",
        abandoned_map_mark_search_claim_model::<AtomicUsize>,
        abandoned_map_mark_search_claim_model::<RmwLoads>,
        &[
            (2, "the searcher claimed a segment"),
            (3, "a free claimed an abandoned segment"),
        ],
    );
}

fn abandoned_map_mark_search_claim_model<A: Word>() {
    const CHUNKS: usize = 128;
    let map = Arc::new(Map {
        l0: [A::new(0), A::new(0)],
        l1: [A::new(0b10)],
        l2: [A::new(1)],
        count: A::new(0),
        segs: Cells::new(CHUNKS),
    });
    // Claiming a segment: it must be as its last abandoner left it (1 = A's state,
    // 3 = put back by C); the claimer then writes it.
    fn take<A>(map: &Map<A>, chunk: usize, me: usize) {
        let v = map.segs.read(chunk);
        assert!(v == 1 || v == 3, "claimed segment {chunk} in state {v}");
        map.segs.write(chunk, me);
    }
    let a = {
        let map = map.clone();
        thread::spawn(move || {
            for chunk in [3, 70] {
                map.segs.write(chunk, 1);
                map.levels().mark(chunk);
            }
        })
    };
    let b = {
        let map = map.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            let mut cursor = AbandonedCursor::new_in(0, CHUNKS);
            while let Some(chunk) = cursor.claim_next_in(&map.levels(), CHUNKS) {
                take(&map, chunk, 2);
                SEEN[2].fetch_add(1, Relaxed);
                got.push(chunk);
            }
            got
        })
    };
    let c = {
        let map = map.clone();
        thread::spawn(move || {
            if map.levels().claim_chunk(70) {
                take(&map, 70, 3);
                SEEN[3].fetch_add(1, Relaxed);
                map.levels().mark(70); // reclaim_on_free declined: put it back
                true
            } else {
                false
            }
        })
    };
    a.join().unwrap();
    let mut got = b.join().unwrap();
    let put_back = c.join().unwrap();
    // No set bit hides under a clear summary bit.
    for w in 0..2 {
        if map.l0[w].load(Relaxed) != 0 {
            assert!(
                map.l1[0].load(Relaxed) & (1 << w) != 0,
                "word {w} lost its summary"
            );
            assert!(map.l2[0].load(Relaxed) & 1 != 0, "level 1 lost its summary");
        }
    }
    let mut cursor = AbandonedCursor::new_in(0, CHUNKS);
    while let Some(chunk) = cursor.claim_next_in(&map.levels(), CHUNKS) {
        take(&map, chunk, 4);
        got.push(chunk);
    }
    // Marks: A's two and C's put-back; claims: C's and those in `got`. So, whether
    // or not C got 70, `got` holds 3 and 70 once each.
    let _ = put_back;
    assert_eq!(sorted(got), vec![3, 70], "a segment lost or claimed twice");
    assert_eq!(map.count.load(Relaxed), 0, "the count did not return to 0");
    assert_eq!(map.l0[0].load(Relaxed) | map.l0[1].load(Relaxed), 0);
}

/// The arena bitmap (bitmap.rs) on one word whose bits 0..4 are free (the others belong
/// to blocks in use for the whole model). Threads A and B each claim a run of 2 blocks
/// with `try_find_claim` (an arena allocation); thread C claims block 1 alone with
/// `claim` (the purge path, which takes free blocks one by one). Each owner checks the
/// blocks are unowned, writes them, and releases them with `unclaim`.
///
/// Invariant: no block is owned by two threads at once (the ownership values and
/// loom's race check, which also checks that a new owner sees the previous owner's
/// writes); the word returns to its initial value.
#[test]
fn arena_bitmap_claim_release() {
    check(
        "arena_bitmap_claim_release",
        arena_bitmap_claim_release_model::<AtomicUsize>,
        arena_bitmap_claim_release_model::<RmwLoads>,
        &[(4, "the purge path claimed a block")],
    );
}

fn arena_bitmap_claim_release_model<A: Word>() {
    const BUSY: usize = !0b1111;
    let words = Arc::new([A::new(BUSY)]);
    let blocks = Arc::new(Cells::new(4));
    let own = |blocks: &Cells, first: usize, n: usize, me: usize| {
        for i in first..first + n {
            assert_eq!(blocks.read(i), 0, "block {i} handed out twice");
            blocks.write(i, me);
        }
    };
    let give_back = |blocks: &Cells, first: usize, n: usize, me: usize| {
        for i in first..first + n {
            assert_eq!(blocks.read(i), me, "block {i} changed owner");
            blocks.write(i, 0);
        }
    };
    let runs: Vec<_> = [1usize, 2]
        .into_iter()
        .map(|me| {
            let (words, blocks) = (words.clone(), blocks.clone());
            thread::spawn(move || {
                if let Some(i) = bitmap::try_find_claim(&*words, 0, 2) {
                    assert!(i + 2 <= 4, "claimed a block in use");
                    own(&blocks, i, 2, me);
                    give_back(&blocks, i, 2, me);
                    assert!(bitmap::unclaim(&*words, i, 2), "released a run not held");
                }
            })
        })
        .collect();
    let c = {
        let (words, blocks) = (words.clone(), blocks.clone());
        thread::spawn(move || {
            if !bitmap::is_any_claimed(&*words, 1, 1) && bitmap::claim(&*words, 1, 1) {
                own(&blocks, 1, 1, 3);
                SEEN[4].fetch_add(1, Relaxed);
                give_back(&blocks, 1, 1, 3);
                assert!(bitmap::unclaim(&*words, 1, 1));
            }
        })
    };
    for t in runs {
        t.join().unwrap();
    }
    c.join().unwrap();
    assert_eq!(words[0].load(Relaxed), BUSY, "bits not returned");
}

/// Abandonment and reclaim of a segment together with a free into it, as the segment
/// layer does them: the owner abandons the segment (writes it, then marks it in the
/// abandoned map); a thread freeing a block of it tries to take it over
/// (`abandoned_reclaim_on_free`: `claim_chunk`) and frees locally if it got it, else
/// pushes the block on the page's thread-free list (`tf_push`), as for any remote free
/// (a claimed segment keeps thread id 0 until reclaimed); a searching thread claims
/// abandoned segments and collects their pages' thread-free lists; at the end the main
/// thread takes over whatever is still abandoned and collects what is left.
///
/// Invariant: the block is freed exactly once: locally by the freer that took the
/// segment over, or collected from the page's list by exactly one owner; the segment
/// has exactly one owner at a time (its claimers see the abandoner's writes, and loom's
/// race check on the segment and the link word).
#[test]
fn abandoned_segment_with_a_free_into_it() {
    check(
        "abandoned_segment_with_a_free_into_it",
        abandoned_segment_with_a_free_into_it_model::<AtomicUsize>,
        abandoned_segment_with_a_free_into_it_model::<RmwLoads>,
        &[
            (5, "the freer took the segment over"),
            (6, "the searcher collected the block freed into its segment"),
        ],
    );
}

fn abandoned_segment_with_a_free_into_it_model<A: Word>() {
    const CHUNKS: usize = 64;
    const SEG: usize = 5;
    let map = Arc::new(Map {
        l0: [A::new(0), A::new(0)],
        l1: [A::new(0)],
        l2: [A::new(0)],
        count: A::new(0),
        segs: Cells::new(CHUNKS),
    });
    let links = Arc::new(Cells::new(2));
    let xtf = Arc::new(A::new(Delayed::NoDelayedFree as usize));
    // the owner abandons its segment, with block 1 still in use
    let owner = {
        let map = map.clone();
        thread::spawn(move || {
            map.segs.write(SEG, 1);
            map.levels().mark(SEG);
        })
    };
    // block 1 is freed by another thread
    let freer = {
        let (map, links, xtf) = (map.clone(), links.clone(), xtf.clone());
        thread::spawn(move || {
            links.write(1, 7);
            if map.levels().claim_chunk(SEG) {
                // taken over: the segment is ours, the free is local
                assert_eq!(map.segs.read(SEG), 1, "took over a segment not abandoned");
                map.segs.write(SEG, 2);
                SEEN[5].fetch_add(1, Relaxed);
                true
            } else {
                let delayed = page::tf_push(&*xtf, addr(1), |next| links.write(1, next));
                assert!(!delayed);
                false
            }
        })
    };
    // a thread looking for abandoned segments
    let searcher = {
        let (map, links, xtf) = (map.clone(), links.clone(), xtf.clone());
        thread::spawn(move || {
            let mut cursor = AbandonedCursor::new_in(0, CHUNKS);
            let mut got = Vec::new();
            while let Some(chunk) = cursor.claim_next_in(&map.levels(), CHUNKS) {
                assert_eq!(chunk, SEG);
                assert_eq!(map.segs.read(SEG), 1, "claimed a segment not abandoned");
                map.segs.write(SEG, 3);
                got.extend(drain(&links, page::tf_take(&*xtf), 3));
            }
            SEEN[6].fetch_add(!got.is_empty() as usize, Relaxed);
            got
        })
    };
    owner.join().unwrap();
    let freed_locally = freer.join().unwrap();
    let mut got = searcher.join().unwrap();
    // still abandoned: the main thread takes it over; then its owner collects the rest
    if map.levels().claim_chunk(SEG) {
        assert_eq!(map.segs.read(SEG), 1);
    }
    got.extend(drain(&links, page::tf_take(&*xtf), 0));
    let times = got.len() + freed_locally as usize;
    assert_eq!(times, 1, "the block was freed {times} times");
    assert_eq!(map.count.load(Relaxed), 0);
}
