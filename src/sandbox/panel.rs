//! Placeholder: the synthetic patient panel is being written (see answers.rs).

/// Seed of the built-in panel.
pub const DEFAULT_SEED: u64 = 0x5b7c_0a11;
/// Patients in the built-in panel.
pub const DEFAULT_PATIENTS: usize = 1000;

/// The synthetic patient panel.
#[derive(Debug, Clone, Default)]
pub struct Panel {}

impl Panel {
    pub fn generate(_seed: u64, _patients: usize) -> Panel {
        Panel {}
    }
}
