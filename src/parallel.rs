//! Parallel work: the one place dlspec starts threads. Three shapes cover every use:
//! - [`chunks`]: a slice cut into one contiguous chunk per core, one result per chunk (the
//!   stages, whose work per item is even and which keep state per chunk, such as a spec file
//!   decoded once for all its images);
//! - [`queue`]: items taken a run at a time by each thread as it finishes the last, one result per
//!   item, stopping at the first error (the output files, whose steps differ widely in cost, and
//!   `dlspec lock`'s uv processes, as many at once as `--jobs` says);
//! - [`watch`]: a check on a thread of its own, run every period until it says stop or its handle
//!   is dropped (the memory guard of rendering).
//!
//! Every result comes back in the order of the items, so that what runs in parallel never
//! changes what dlspec writes. A panic on a worker thread is resumed on the calling thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The number of cores this process may use.
#[must_use]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs `work` over contiguous chunks of `items`, one chunk per available core (the first on the
/// calling thread), and returns the results in the order of the chunks. Fewer than `min_chunk`
/// items per chunk are not worth a thread: then it is one call on the calling thread.
pub fn chunks<T: Sync, R: Send>(items: &[T], min_chunk: usize, work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len() / min_chunk.max(1)).max(1);
    if threads == 1 {
        return vec![work(items)];
    }
    let chunks: Vec<&[T]> = items.chunks(items.len().div_ceil(threads)).collect();
    on_threads(chunks.len(), |thread| work(chunks[thread]))
}

/// Runs `work` over `items` on up to `threads` threads (the first on the calling thread), each
/// taking `run` consecutive items at a time as it finishes the last, so that a slow item does not
/// leave the other threads idle; each thread has a state of its own from `init`. Returns the
/// results in item order. After an error no thread starts a new run, and the results end with the
/// first error in item order: every item before it was worked on.
pub fn queue<T: Sync, S, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    run: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&T, &mut S) -> Result<R, E> + Sync,
) -> Vec<Result<R, E>> {
    let run = run.max(1);
    let next = AtomicUsize::new(0);
    let threads = threads.min(items.len().div_ceil(run)).max(1);
    let done = on_threads(threads, |_| {
        let (mut done, mut state) = (Vec::new(), init());
        loop {
            let start = next.fetch_add(run, Ordering::Relaxed);
            let Some(taken) = items.get(start..items.len().min(start + run)) else { break };
            for (at, item) in (start..).zip(taken) {
                let result = work(item, &mut state);
                let failed = result.is_err();
                done.push((at, result));
                if failed {
                    next.store(items.len(), Ordering::Relaxed);
                    return done;
                }
            }
        }
        done
    });
    let mut done: Vec<_> = done.into_iter().flatten().collect();
    done.sort_unstable_by_key(|(at, _)| *at);
    let mut results = Vec::with_capacity(done.len());
    for (_, result) in done {
        let failed = result.is_err();
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

/// [`queue`] for work that cannot fail, one item at a time: every result, in item order.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    queue(items, threads, 1, || (), |item, ()| Ok::<_, std::convert::Infallible>(work(item)))
        .into_iter()
        .map(|result| match result {
            Ok(value) => value,
            Err(never) => match never {},
        })
        .collect()
}

/// Runs `work(thread)` on `threads` threads (the first on the calling thread) and returns the
/// results in thread order.
fn on_threads<R: Send>(threads: usize, work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    if threads <= 1 {
        return vec![work(0)];
    }
    std::thread::scope(|scope| {
        let work = &work;
        let rest: Vec<_> = (1..threads).map(|thread| scope.spawn(move || work(thread))).collect();
        let mut results = vec![work(0)];
        results.extend(rest.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
        results
    })
}

/// A check running on a thread of its own until it says stop or this handle is dropped.
pub struct Watch {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Runs `check` every `period` on a thread of its own, until it returns `false` or the returned
/// handle is dropped (which waits for the thread to end).
pub fn watch(period: Duration, mut check: impl FnMut() -> bool + Send + 'static) -> Watch {
    let done = Arc::new(AtomicBool::new(false));
    let watching = Arc::clone(&done);
    let thread = std::thread::spawn(move || {
        while !watching.load(Ordering::Relaxed) && check() {
            std::thread::park_timeout(period);
        }
    });
    Watch { done, thread: Some(thread) }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        let sums = chunks(&items, 1, |chunk| chunk.to_vec());
        assert_eq!(sums.concat(), items);
        assert_eq!(chunks(&items[..3], 16, <[usize]>::len), [3], "too few to share");
    }

    #[test]
    fn a_queue_returns_every_result_in_item_order() {
        let items: Vec<usize> = (0..500).collect();
        for (threads, run) in [(1, 1), (2, 8), (4, 3), (64, 1000)] {
            let results = queue(
                &items,
                threads,
                run,
                || 0,
                |item, seen: &mut usize| {
                    *seen += 1;
                    Ok::<_, ()>(item * 2)
                },
            );
            let results: Vec<usize> = results.into_iter().map(Result::unwrap).collect();
            assert_eq!(results, items.iter().map(|i| i * 2).collect::<Vec<_>>(), "{threads} threads, runs of {run}");
        }
        assert!(queue(&[] as &[u8], 4, 8, || (), |_, ()| Ok::<_, ()>(())).is_empty());
    }

    #[test]
    fn a_queue_stops_at_its_first_error_with_every_item_before_it_done() {
        let items: Vec<usize> = (0..2000).collect();
        for threads in [1, 2, 4] {
            let results =
                queue(&items, threads, 8, || (), |item, ()| if *item == 700 { Err(*item) } else { Ok(*item) });
            assert_eq!(results.len(), 701, "{threads} threads");
            assert_eq!(results.last(), Some(&Err(700)));
            assert!(results[..700].iter().enumerate().all(|(n, r)| *r == Ok(n)));
        }
    }

    #[test]
    fn map_keeps_the_order_of_its_items() {
        let items = ["a", "bb", "ccc"];
        assert_eq!(map(&items, 8, |s| s.len()), [1, 2, 3]);
    }

    #[test]
    fn a_watch_runs_until_dropped_or_told_to_stop() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let watch = watch(Duration::from_millis(1), move || sender.send(()).is_ok());
        receiver.recv_timeout(Duration::from_secs(10)).expect("the check ran");
        drop(watch);
        let stopped = super::watch(Duration::from_millis(1), || false);
        drop(stopped);
    }
}
