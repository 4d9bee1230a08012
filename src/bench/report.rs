//! The figures of one scenario: each engine figure next to its baseline and their ratio
//! (engine ÷ baseline), printed as a table or as one JSON object.

use serde_json::{Map, Value, json};

/// The machine the figures were measured on.
#[derive(Debug, Clone, Copy)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: u64,
}

impl Machine {
    pub fn here() -> Machine {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
            })
            .map(|kib| kib * 1024)
            .unwrap_or(0);
        Machine {
            cores,
            memory_bytes,
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub value: f64,
    pub baseline: Option<f64>,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| *b != 0.0 && b.is_finite())
            .map(|b| self.value / b)
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub scenario: &'static str,
    pub quick: bool,
    pub duration_s: f64,
    pub machine: Machine,
    /// What was measured against what, in a sentence.
    pub baseline_is: String,
    /// The sizes used (messages, logs, items, seconds).
    pub sizes: Map<String, Value>,
    pub rows: Vec<Row>,
    /// Floors from the issue, each with whether this run reached it.
    pub floors: Vec<(String, bool)>,
    pub notes: Vec<String>,
    /// Structured results that are not one number (the callgrind mode's top functions);
    /// in the JSON under `details` when present.
    pub details: Map<String, Value>,
}

impl Report {
    pub fn new(scenario: &'static str, quick: bool) -> Report {
        Report {
            scenario,
            quick,
            duration_s: 0.0,
            machine: Machine::here(),
            baseline_is: String::new(),
            sizes: Map::new(),
            rows: Vec::new(),
            floors: Vec::new(),
            notes: Vec::new(),
            details: Map::new(),
        }
    }

    pub fn size(&mut self, name: &str, value: impl Into<Value>) {
        self.sizes.insert(name.to_string(), value.into());
    }

    /// An engine figure with its baseline (ratio = value ÷ baseline).
    pub fn pair(&mut self, name: &str, unit: &'static str, value: f64, baseline: f64) {
        self.rows.push(Row {
            name: name.to_string(),
            unit,
            value,
            baseline: Some(baseline),
        });
    }

    /// A figure with no baseline of its own (a difference, or a baseline's own figure).
    pub fn figure(&mut self, name: &str, unit: &'static str, value: f64) {
        self.rows.push(Row {
            name: name.to_string(),
            unit,
            value,
            baseline: None,
        });
    }

    pub fn floor(&mut self, text: &str, reached: bool) {
        self.floors.push((text.to_string(), reached));
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.name == name).map(|r| r.value)
    }

    pub fn ratio(&self, name: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .and_then(Row::ratio)
    }

    /// `{"scenario", "quick", "duration_s", "machine", "sizes", "figures", "baseline",
    /// "ratios", "units", "floors", "baseline_is", "notes"}`. Non-finite numbers
    /// (nothing measured) become `null`.
    pub fn to_json(&self) -> Value {
        let num = |v: f64| {
            if v.is_finite() {
                json!((v * 1000.0).round() / 1000.0)
            } else {
                Value::Null
            }
        };
        let mut figures = Map::new();
        let mut baseline = Map::new();
        let mut ratios = Map::new();
        let mut units = Map::new();
        for row in &self.rows {
            figures.insert(row.name.clone(), num(row.value));
            units.insert(row.name.clone(), json!(row.unit));
            if let Some(b) = row.baseline {
                baseline.insert(row.name.clone(), num(b));
                ratios.insert(
                    row.name.clone(),
                    row.ratio().map(num).unwrap_or(Value::Null),
                );
            }
        }
        let mut out = json!({
            "scenario": self.scenario,
            "quick": self.quick,
            "duration_s": num(self.duration_s),
            "machine": {"cores": self.machine.cores, "memory_bytes": self.machine.memory_bytes},
            "sizes": self.sizes,
            "figures": figures,
            "baseline": baseline,
            "ratios": ratios,
            "units": units,
            "floors": self.floors.iter().map(|(t, ok)| json!({"floor": t, "reached": ok})).collect::<Vec<_>>(),
            "baseline_is": self.baseline_is,
            "notes": self.notes,
        });
        if !self.details.is_empty()
            && let Some(map) = out.as_object_mut()
        {
            map.insert("details".into(), Value::Object(self.details.clone()));
        }
        out
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "\n== {} ({:.1} s) ==\nbaseline: {}\nsizes: {}\n",
            self.scenario,
            self.duration_s,
            self.baseline_is,
            self.sizes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        out += &format!(
            "{:<40} {:>14} {:>14} {:>8}\n",
            "figure", "engine", "baseline", "ratio"
        );
        for row in &self.rows {
            let value = format!("{} {}", short(row.value), row.unit);
            let base = row
                .baseline
                .map(|b| format!("{} {}", short(b), row.unit))
                .unwrap_or_else(|| "-".into());
            let ratio = row
                .ratio()
                .map(|r| format!("{r:.2}×"))
                .unwrap_or_else(|| "-".into());
            out += &format!("{:<40} {:>14} {:>14} {:>8}\n", row.name, value, base, ratio);
        }
        for (floor, reached) in &self.floors {
            out += &format!(
                "floor {}: {floor}\n",
                if *reached { "REACHED" } else { "missed " }
            );
        }
        for note in &self.notes {
            out += &format!("note: {note}\n");
        }
        out
    }
}

/// A number with a sensible number of digits.
fn short(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
