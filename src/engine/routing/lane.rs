//! The queue a log waits in at its destination: the (source, destination) pair's own
//! queue, or with per-patient queues, the patient's child queue, so one patient's stuck
//! message does not hold the others while each patient's order is kept.

use crate::engine::config::{Destination, QueueKey};
use crate::model::LogRecord;
use crate::store::credentials::sha256;

/// The queue lane of a log at a destination: 0, or the patient's child queue.
pub fn lane(destination: &Destination, log: &LogRecord) -> u64 {
    match (destination.delivery.queue_key, &log.patient_id) {
        (QueueKey::Patient, Some(patient)) => {
            let h = sha256(patient.as_bytes());
            // Never 0, so a patient lane is told apart from the pair's own queue.
            u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]).max(1)
        }
        _ => 0,
    }
}
