//! The console's colours as semantic slots, so drawing code asks for "the selection" or
//! "a failed status" and never for a colour.
//!
//! Themes are TOML files (`themes/*.toml` in the repository, compiled in; a user's own in
//! `$XDG_CONFIG_HOME/switchboard/themes/`). Every slot must be present, so a theme file
//! written for an older release fails loudly instead of drawing half the screen unstyled.
//! `mono` carries all meaning through modifiers (reverse, bold, underline) for `NO_COLOR`
//! terminals.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The themes compiled into the binary: (name, TOML text).
pub const BUILT_IN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub band_development: Style,
    pub band_staging: Style,
    pub band_production: Style,
    pub status_ok: Style,
    pub status_pending: Style,
    pub status_failed: Style,
    pub selection: Style,
    pub border: Style,
    pub border_focused: Style,
    pub error: Style,
    pub json_key: Style,
    pub json_string: Style,
    pub json_number: Style,
    /// `true`, `false` and `null`.
    pub json_literal: Style,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThemeError {
    #[error(
        "no theme \"{name}\": built in are dark, light, high-contrast and mono; your own go in {dir}"
    )]
    Unknown { name: String, dir: String },
    #[error("theme file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// One slot as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ThemeFile {
    name: Option<String>,
    #[serde(flatten)]
    slots: BTreeMap<String, StyleSpec>,
}

const SLOTS: [&str; 17] = [
    "text",
    "dim",
    "accent",
    "band_development",
    "band_staging",
    "band_production",
    "status_ok",
    "status_pending",
    "status_failed",
    "selection",
    "border",
    "border_focused",
    "error",
    "json_key",
    "json_string",
    "json_number",
    "json_literal",
];

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

fn color(text: &str) -> Result<Color, String> {
    Color::from_str(text).map_err(|_| {
        format!("\"{text}\" is not a colour: use a name like dark-gray, an index like \"208\" or \"#rrggbb\"")
    })
}

fn modifier(text: &str) -> Result<Modifier, String> {
    Ok(match text.to_ascii_lowercase().replace('_', "-").as_str() {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" | "underline" => Modifier::UNDERLINED,
        "reversed" | "reverse" => Modifier::REVERSED,
        "crossed-out" => Modifier::CROSSED_OUT,
        "slow-blink" => Modifier::SLOW_BLINK,
        _ => {
            return Err(format!(
                "\"{text}\" is not a modifier: use bold, dim, italic, underlined, reversed or crossed-out"
            ));
        }
    })
}

impl StyleSpec {
    fn style(&self) -> Result<Style, String> {
        let mut style = Style::new();
        if let Some(fg) = &self.fg {
            style = style.fg(color(fg)?);
        }
        if let Some(bg) = &self.bg {
            style = style.bg(color(bg)?);
        }
        for m in &self.modifiers {
            style = style.add_modifier(modifier(m)?);
        }
        Ok(style)
    }
}

impl Theme {
    /// Parses a theme file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid {
            path: origin.to_string(),
            message,
        };
        let mut file: ThemeFile = toml::from_str(text).map_err(|e| invalid(e.message().into()))?;
        if let Some(unknown) = file.slots.keys().find(|k| !SLOTS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown slot \"{unknown}\"; the slots are {}",
                SLOTS.join(", ")
            )));
        }
        let mut slot = |name: &str| -> Result<Style, ThemeError> {
            let spec = file
                .slots
                .remove(name)
                .ok_or_else(|| invalid(format!("slot \"{name}\" is missing")))?;
            spec.style()
                .map_err(|m| invalid(format!("slot \"{name}\": {m}")))
        };
        Ok(Theme {
            text: slot("text")?,
            dim: slot("dim")?,
            accent: slot("accent")?,
            band_development: slot("band_development")?,
            band_staging: slot("band_staging")?,
            band_production: slot("band_production")?,
            status_ok: slot("status_ok")?,
            status_pending: slot("status_pending")?,
            status_failed: slot("status_failed")?,
            selection: slot("selection")?,
            border: slot("border")?,
            border_focused: slot("border_focused")?,
            error: slot("error")?,
            json_key: slot("json_key")?,
            json_string: slot("json_string")?,
            json_number: slot("json_number")?,
            json_literal: slot("json_literal")?,
            name: file.name.unwrap_or_else(|| origin.to_string()),
        })
    }

    /// A theme compiled into the binary.
    pub fn built_in(name: &str) -> Option<Theme> {
        let (_, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
        // The built-in files are checked by a test, so this cannot fail in a release.
        Theme::parse(text, name).ok()
    }

    pub fn dark() -> Theme {
        Theme::built_in("dark").unwrap_or_else(Theme::fallback)
    }

    pub fn mono() -> Theme {
        Theme::built_in("mono").unwrap_or_else(Theme::fallback)
    }

    /// Unstyled, for the impossible case of a broken built-in file.
    fn fallback() -> Theme {
        let plain = Style::new();
        Theme {
            name: "plain".into(),
            text: plain,
            dim: plain,
            accent: plain,
            band_development: plain.add_modifier(Modifier::REVERSED),
            band_staging: plain.add_modifier(Modifier::REVERSED),
            band_production: plain.add_modifier(Modifier::REVERSED),
            status_ok: plain,
            status_pending: plain,
            status_failed: plain,
            selection: plain.add_modifier(Modifier::REVERSED),
            border: plain,
            border_focused: plain,
            error: plain,
            json_key: plain,
            json_string: plain,
            json_number: plain,
            json_literal: plain,
        }
    }

    /// `name` as a path to a `.toml` file, a theme in `user_dir`, or a built-in one (in
    /// that order, so a user can override a built-in theme by its name).
    pub fn load(name: &str, user_dir: &Path) -> Result<Theme, ThemeError> {
        let as_path = Path::new(name);
        let file: Option<PathBuf> = if name.ends_with(".toml") || name.contains('/') {
            Some(as_path.to_path_buf())
        } else {
            let candidate = user_dir.join(format!("{name}.toml"));
            candidate.is_file().then_some(candidate)
        };
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            return Theme::parse(&text, &shown);
        }
        Theme::built_in(name).ok_or_else(|| ThemeError::Unknown {
            name: name.to_string(),
            dir: user_dir.display().to_string(),
        })
    }

    /// The theme to start with: `--theme` when given; otherwise `mono` when `NO_COLOR`
    /// is set to anything non-empty (no-color.org), else `dark`.
    pub fn choose(
        requested: Option<&str>,
        no_color: Option<&OsStr>,
        user_dir: &Path,
    ) -> Result<Theme, ThemeError> {
        match requested {
            Some(name) => Theme::load(name, user_dir),
            None => Ok(Theme::for_no_color(no_color)),
        }
    }

    /// `mono` when `NO_COLOR` is set and non-empty, else `dark`.
    pub fn for_no_color(no_color: Option<&OsStr>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::mono(),
            _ => Theme::dark(),
        }
    }

    /// Names a user can pass to `--theme` / `:theme`: built-ins and files in `user_dir`.
    pub fn available(user_dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        if let Ok(entries) = std::fs::read_dir(user_dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension() == Some(OsStr::new("toml"))
                    && let Some(stem) = path.file_stem().and_then(OsStr::to_str)
                    && !names.iter().any(|n| n == stem)
                {
                    names.push(stem.to_string());
                }
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(t: &Theme) -> Vec<Style> {
        vec![
            t.text,
            t.dim,
            t.accent,
            t.band_development,
            t.band_staging,
            t.band_production,
            t.status_ok,
            t.status_pending,
            t.status_failed,
            t.selection,
            t.border,
            t.border_focused,
            t.error,
            t.json_key,
            t.json_string,
            t.json_number,
            t.json_literal,
        ]
    }

    #[test]
    fn every_built_in_theme_parses_with_every_slot() {
        for (name, text) in BUILT_IN {
            let theme = Theme::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(theme.name, name);
            assert_eq!(slots(&theme).len(), SLOTS.len());
            // The selection must stand out from plain text in every theme.
            assert_ne!(theme.selection, theme.text, "{name}");
        }
    }

    #[test]
    fn no_color_set_and_non_empty_chooses_mono_unless_a_theme_is_asked_for() {
        let dir = Path::new("/nonexistent");
        assert_eq!(Theme::for_no_color(Some(OsStr::new("1"))), Theme::mono());
        assert_eq!(Theme::for_no_color(Some(OsStr::new(""))), Theme::dark());
        assert_eq!(Theme::for_no_color(None), Theme::dark());
        let asked = Theme::choose(Some("light"), Some(OsStr::new("1")), dir).unwrap();
        assert_eq!(asked.name, "light");
    }

    #[test]
    fn mono_has_no_colours_but_a_visible_selection() {
        let t = Theme::mono();
        for style in slots(&t) {
            assert_eq!((style.fg, style.bg), (None, None));
        }
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(t.border_focused.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn user_themes_override_built_ins_and_errors_name_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let dark = BUILT_IN[0].1.replace("name = \"dark\"", "name = \"mine\"");
        std::fs::write(dir.path().join("dark.toml"), &dark).unwrap();
        assert_eq!(Theme::load("dark", dir.path()).unwrap().name, "mine");
        assert!(Theme::available(dir.path()).contains(&"high-contrast".to_string()));

        let broken = dark.replace("accent = { fg = \"cyan\" }", "accent = { fg = \"teal\" }");
        std::fs::write(dir.path().join("broken.toml"), broken).unwrap();
        let err = Theme::load("broken", dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("slot \"accent\"") && err.contains("teal"),
            "{err}"
        );

        let missing = dark.replace("json_key = { fg = \"cyan\" }", "");
        std::fs::write(dir.path().join("old.toml"), missing).unwrap();
        let err = Theme::load("old", dir.path()).unwrap_err().to_string();
        assert!(err.contains("\"json_key\" is missing"), "{err}");

        let err = Theme::load("solarized", dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no theme \"solarized\""), "{err}");
        assert_eq!(
            Theme::available(dir.path())
                .iter()
                .filter(|n| *n == "dark")
                .count(),
            1
        );
    }
}
