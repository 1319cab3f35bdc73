//! The live feed of each space: what long-polls wait on, and the space's most recent ops kept in
//! memory so that waking them costs no database reads.
//!
//! Every push to a space wakes every long-poll of that space. With a person's handful of devices
//! that is cheap; with hundreds of devices in one space (a fleet account, or the load test) each
//! push used to cost one database read per waiting device, and those reads starved the pushes.
//! Now a push hands its committed ops to the feed, and a long-poll that is caught up is answered
//! from memory, and one whose cursor equals the known head waits without reading at all.
//!
//! Invariants:
//! - `head` only ever holds a head some committed transaction produced, and only moves forward,
//!   except that losing the cross-instance notifications resets it to unknown (a new epoch).
//! - `recent` holds ops with consecutive cursors, exactly as stored; a gap (ops pushed through
//!   another instance, known only by their head) starts it afresh.
//! - A space's entry lives while someone listens; the last listener leaving drops its ops.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::value::RawValue;
use tokio::sync::watch;
use uuid::Uuid;

use super::PullResult;

/// Most ops a space keeps in memory for its long-polls.
pub const RECENT_OPS: usize = 2000;

/// The head value meaning "not known here": read the database.
const UNKNOWN: i64 = -1;

/// One space's feed.
#[derive(Debug)]
struct SpaceFeed {
    /// The newest head known to this instance ([`UNKNOWN`] if none), watched by long-polls.
    head: watch::Sender<i64>,
    /// Bumped when knowledge of the head is lost, so a database read that started before
    /// cannot put back a head from before the loss.
    epoch: u64,
    /// The most recent ops as pulled (`cursor` spliced in), consecutive cursors, oldest first.
    recent: VecDeque<(i64, Arc<str>)>,
}

impl SpaceFeed {
    fn new() -> Self {
        Self {
            head: watch::channel(UNKNOWN).0,
            epoch: 0,
            recent: VecDeque::new(),
        }
    }

    fn advance(&self, head: i64) {
        self.head.send_if_modified(|known| {
            let newer = head > *known;
            if newer {
                *known = head;
            }
            newer
        });
    }
}

/// What a long-poll holds while it waits: the head as it changes, and the epoch it started in.
#[derive(Debug)]
pub struct Subscription {
    /// Changes whenever a newer head becomes known (or knowledge of it is lost).
    pub head: watch::Receiver<i64>,
    epoch: u64,
}

impl Subscription {
    /// The newest head known here, if any; marks it seen.
    pub fn known_head(&mut self) -> Option<i64> {
        let head = *self.head.borrow_and_update();
        (head != UNKNOWN).then_some(head)
    }
}

/// Wakes long-polls when their space's head moves, and keeps the space's newest ops: fed by this
/// instance's pushes, and across instances by PostgreSQL `NOTIFY` (heads only). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    spaces: Arc<Mutex<HashMap<Uuid, SpaceFeed>>>,
    pub(crate) closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            spaces: Arc::default(),
            closing: watch::channel(false).0,
        }
    }
}

impl Hub {
    fn spaces(&self) -> MutexGuard<'_, HashMap<Uuid, SpaceFeed>> {
        self.spaces.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts listening to `space`; take it before reading the log so no push between the read
    /// and the wait is missed.
    pub fn subscribe(&self, space: Uuid) -> Subscription {
        let mut spaces = self.spaces();
        let feed = spaces.entry(space).or_insert_with(SpaceFeed::new);
        Subscription {
            head: feed.head.subscribe(),
            epoch: feed.epoch,
        }
    }

    /// Whether anyone listens to `space`, i.e. whether a push should hand over its ops.
    pub fn is_listened(&self, space: Uuid) -> bool {
        self.spaces()
            .get(&space)
            .is_some_and(|feed| feed.head.receiver_count() > 0)
    }

    /// Announces ops this instance just committed to `space` (consecutive cursors ending at
    /// `head`, as pulled) and wakes its long-polls.
    pub fn publish(&self, space: Uuid, ops: Vec<(i64, String)>, head: i64) {
        let mut spaces = self.spaces();
        let Some(feed) = spaces.get_mut(&space) else {
            return;
        };
        if feed.head.receiver_count() == 0 {
            spaces.remove(&space);
            return;
        }
        let follows = match (feed.recent.back(), ops.first()) {
            (Some((last, _)), Some((first, _))) => *first == last + 1,
            _ => true,
        };
        if !follows {
            feed.recent.clear();
        }
        let consecutive = ops.windows(2).all(|w| w[1].0 == w[0].0 + 1)
            && ops.last().is_none_or(|(seq, _)| *seq == head);
        if consecutive {
            feed.recent
                .extend(ops.into_iter().map(|(seq, op)| (seq, Arc::from(op))));
            let excess = feed.recent.len().saturating_sub(RECENT_OPS);
            feed.recent.drain(..excess);
        } else {
            feed.recent.clear();
        }
        feed.advance(head);
    }

    /// Announces a new head of `space` committed elsewhere (another instance); its ops are not
    /// known here, so the next publish starts the recent list afresh.
    pub fn wake(&self, space: Uuid, head: i64) {
        let mut spaces = self.spaces();
        if let Some(feed) = spaces.get(&space) {
            if feed.head.receiver_count() == 0 {
                spaces.remove(&space);
            } else {
                feed.advance(head);
            }
        }
    }

    /// Records a head read from the database by a reader that subscribed in `sub`'s epoch.
    pub fn observe(&self, space: Uuid, sub: &Subscription, head: i64) {
        if let Some(feed) = self.spaces().get(&space)
            && feed.epoch == sub.epoch
        {
            feed.advance(head);
        }
    }

    /// Forgets every known head (after the cross-instance listener reconnected and may have
    /// missed notifications) and wakes every long-poll, which then reads the database.
    pub fn wake_all(&self) {
        for feed in self.spaces().values_mut() {
            feed.epoch += 1;
            feed.recent.clear();
            feed.head.send_replace(UNKNOWN);
        }
    }

    /// Ops after `cursor` from memory, if memory has the next one; `None` sends the caller to
    /// the database.
    pub fn recent_page(&self, space: Uuid, cursor: i64, limit: i64) -> Option<PullResult> {
        let spaces = self.spaces();
        let feed = spaces.get(&space)?;
        let (first, _) = feed.recent.front()?;
        let (last, _) = feed.recent.back()?;
        if cursor < first - 1 || cursor >= *last {
            return None;
        }
        let skip = usize::try_from(cursor + 1 - first).ok()?;
        let take = usize::try_from(limit).ok()?;
        let mut json = String::from("[");
        let mut served = cursor;
        let mut count = 0;
        for (seq, op) in feed.recent.iter().skip(skip).take(take) {
            if count > 0 {
                json.push(',');
            }
            json.push_str(op);
            served = *seq;
            count += 1;
        }
        json.push(']');
        let head = *feed.head.borrow();
        drop(spaces);
        let ops = RawValue::from_string(json).ok()?;
        Some(PullResult {
            ops,
            cursor: served,
            has_more: served < head,
            count,
        })
    }

    /// Ends all long-polls now and any started later, so graceful shutdown isn't held up.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Spaces with an entry (for tests: entries must not outlive their listeners).
    pub fn spaces_tracked(&self) -> usize {
        self.spaces().len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn op(seq: i64) -> (i64, String) {
        (seq, format!(r#"{{"cursor":{seq}}}"#))
    }

    fn cursors(page: &PullResult) -> Vec<i64> {
        let ops: Vec<serde_json::Value> = serde_json::from_str(page.ops.get()).unwrap();
        ops.iter().map(|o| o["cursor"].as_i64().unwrap()).collect()
    }

    #[test]
    fn published_ops_are_served_from_memory_after_any_cursor_they_cover() {
        let hub = Hub::default();
        let space = Uuid::now_v7();
        let mut sub = hub.subscribe(space);
        assert_eq!(sub.known_head(), None);
        hub.publish(space, (11..=15).map(op).collect(), 15);
        assert_eq!(sub.known_head(), Some(15));
        let page = hub.recent_page(space, 10, 1000).unwrap();
        assert_eq!(cursors(&page), [11, 12, 13, 14, 15]);
        assert_eq!((page.cursor, page.count, page.has_more), (15, 5, false));
        let page = hub.recent_page(space, 12, 2).unwrap();
        assert_eq!(cursors(&page), [13, 14]);
        assert!(page.has_more);
        // Before what memory holds, or nothing newer: the database decides.
        assert!(hub.recent_page(space, 9, 1000).is_none());
        assert!(hub.recent_page(space, 15, 1000).is_none());
    }

    #[test]
    fn a_gap_from_another_instance_restarts_the_memory() {
        let hub = Hub::default();
        let space = Uuid::now_v7();
        let mut sub = hub.subscribe(space);
        hub.publish(space, (1..=3).map(op).collect(), 3);
        hub.wake(space, 7);
        assert_eq!(sub.known_head(), Some(7));
        // 3 → 4..7 happened elsewhere: memory must not claim to know what follows 3.
        let page = hub.recent_page(space, 2, 1000).unwrap();
        assert_eq!(cursors(&page), [3]);
        assert!(page.has_more, "the head is 7, so more follows");
        hub.publish(space, (8..=9).map(op).collect(), 9);
        assert!(hub.recent_page(space, 3, 1000).is_none());
        assert_eq!(cursors(&hub.recent_page(space, 7, 1000).unwrap()), [8, 9]);
    }

    #[test]
    fn heads_only_move_forward_and_a_lost_listener_forgets_them() {
        let hub = Hub::default();
        let space = Uuid::now_v7();
        let mut sub = hub.subscribe(space);
        hub.publish(space, vec![op(5)], 5);
        hub.observe(space, &sub, 3);
        assert_eq!(sub.known_head(), Some(5));
        hub.wake_all();
        assert_eq!(sub.known_head(), None);
        assert!(hub.recent_page(space, 4, 1000).is_none());
        // A read that began before the loss can't restore a head from before it.
        hub.observe(space, &sub, 5);
        assert_eq!(sub.known_head(), None);
        let mut fresh = hub.subscribe(space);
        hub.observe(space, &fresh, 6);
        assert_eq!(fresh.known_head(), Some(6));
    }

    #[test]
    fn memory_is_bounded_and_dropped_with_the_last_listener() {
        let hub = Hub::default();
        let space = Uuid::now_v7();
        let sub = hub.subscribe(space);
        let total = i64::try_from(RECENT_OPS).unwrap() + 10;
        hub.publish(space, (1..=total).map(op).collect(), total);
        assert!(
            hub.recent_page(space, 9, 1).is_none(),
            "ops 1..=10 are gone"
        );
        let page = hub.recent_page(space, 10, 1).unwrap();
        assert_eq!(cursors(&page), [11]);
        drop(sub);
        assert!(!hub.is_listened(space));
        hub.publish(space, vec![op(total + 1)], total + 1);
        assert_eq!(hub.spaces_tracked(), 0);
    }
}
