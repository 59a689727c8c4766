//! Locks taken the one way pets takes them: a panic on another thread while
//! a lock was held leaves data that is still consistent enough here
//! (counters, tables, queues), so a poisoned lock is taken anyway rather
//! than spreading the panic. Every crate of the workspace uses these.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub trait Locked<T> {
    /// The lock, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub trait ReadWrite<T> {
    /// A read lock, poisoned or not.
    fn read_now(&self) -> RwLockReadGuard<'_, T>;
    /// A write lock, poisoned or not.
    fn write_now(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> ReadWrite<T> for RwLock<T> {
    fn read_now(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_now(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_lock_is_still_taken() {
        let shared = Arc::new(Mutex::new(1));
        let poisoner = shared.clone();
        let _ = std::thread::spawn(move || {
            let _held = poisoner.lock().unwrap();
            panic!("poisoning on purpose");
        })
        .join();
        assert!(shared.is_poisoned());
        *shared.locked() += 1;
        assert_eq!(*shared.locked(), 2);
        let table = RwLock::new(vec![1]);
        table.write_now().push(2);
        assert_eq!(*table.read_now(), [1, 2]);
    }
}
