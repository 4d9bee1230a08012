//! WCAG 2 contrast of every shipped theme, measured on what the views actually draw:
//! each screen below is rendered with each theme, and every visible cell's foreground
//! is checked against its background (≥ 4.5:1 for text, ≥ 3:1 for borders and other
//! box-drawing decorations).
//!
//! Colours are resolved through the xterm palette (the 16 system colours at xterm's
//! standard values, the 6×6×6 cube, the grey ramp; `#rrggbb` as is). Where a theme
//! leaves the terminal's default colour (`reset`), the theme's declared background is
//! assumed: dark and high-contrast on black with xterm's light grey text, light on
//! white with black text, and mono (chosen for `NO_COLOR`, whatever the terminal) on
//! both. `dim` (faint) is taken as the foreground blended halfway to the background,
//! as terminals draw it; `reversed` swaps the two.

use super::composer::{composing, draft, template};
use super::*;
use crate::client::send::Answer;
use crate::console::theme::BUILT_IN;

type Rgb = (u8, u8, u8);

const SYSTEM: [Rgb; 16] = [
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
];

fn indexed(i: u8) -> Rgb {
    match i {
        0..=15 => SYSTEM[usize::from(i)],
        16..=231 => {
            let level = |n: u8| if n == 0 { 0 } else { 55 + n * 40 };
            let n = i - 16;
            (level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// `None` for the terminal's default.
fn rgb(color: Color) -> Option<Rgb> {
    Some(match color {
        Color::Reset => return None,
        Color::Black => SYSTEM[0],
        Color::Red => SYSTEM[1],
        Color::Green => SYSTEM[2],
        Color::Yellow => SYSTEM[3],
        Color::Blue => SYSTEM[4],
        Color::Magenta => SYSTEM[5],
        Color::Cyan => SYSTEM[6],
        Color::Gray => SYSTEM[7],
        Color::DarkGray => SYSTEM[8],
        Color::LightRed => SYSTEM[9],
        Color::LightGreen => SYSTEM[10],
        Color::LightYellow => SYSTEM[11],
        Color::LightBlue => SYSTEM[12],
        Color::LightMagenta => SYSTEM[13],
        Color::LightCyan => SYSTEM[14],
        Color::White => SYSTEM[15],
        Color::Indexed(i) => indexed(i),
        Color::Rgb(r, g, b) => (r, g, b),
    })
}

fn luminance((r, g, b): Rgb) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

fn ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn blend(fg: Rgb, bg: Rgb) -> Rgb {
    let mid = |a: u8, b: u8| ((u16::from(a) + u16::from(b)) / 2) as u8;
    (mid(fg.0, bg.0), mid(fg.1, bg.1), mid(fg.2, bg.2))
}

/// The terminal defaults (foreground, background) each theme is drawn on.
fn defaults(theme: &str) -> Vec<(Rgb, Rgb)> {
    let dark = (SYSTEM[7], SYSTEM[0]);
    let light = (SYSTEM[0], SYSTEM[15]);
    match theme {
        "light" => vec![light],
        "mono" => vec![dark, light],
        _ => vec![dark],
    }
}

fn is_decoration(symbol: &str) -> bool {
    symbol
        .chars()
        .all(|c| ('\u{2500}'..='\u{259f}').contains(&c))
}

/// Every screen the check draws: the main view with each pane focused, each
/// environment's band, overlays, the detail view, the composer, the Developer view.
fn screens() -> Vec<(&'static str, App, u16, u16)> {
    let dev = || console(Role::Admin, Environment::Development);
    let pressed = |mut app: App, text: &str| {
        keys(&mut app, text);
        app
    };
    let mut out = vec![
        ("feed focused", dev(), 120, 32),
        ("feed one-line rows", dev(), 200, 40),
        ("environments focused", pressed(dev(), "1"), 120, 32),
        ("connections focused", pressed(dev(), "2"), 120, 32),
        ("help", pressed(dev(), "?"), 120, 32),
        ("filter error", pressed(dev(), "/status:bogus"), 120, 32),
        (
            "staging",
            console(Role::Admin, Environment::Staging),
            120,
            32,
        ),
        (
            "production viewer",
            console(Role::Viewer, Environment::Production),
            120,
            32,
        ),
        ("developer keys", super::developer::developer('K'), 120, 32),
        (
            "developer endpoints",
            super::developer::developer('E'),
            120,
            32,
        ),
    ];
    let mut detail = dev();
    open_detail(&mut detail, false);
    let folded = pressed(detail.clone(), "\tzj");
    out.push(("detail", detail, 120, 40));
    out.push(("detail folded", folded, 120, 40));

    let mut confirm = console(Role::Operator, Environment::Production);
    open_detail(&mut confirm, true);
    out.push(("confirmation", pressed(confirm, "r"), 120, 32));

    let mut lost = pressed(dev(), "f");
    update(
        &mut lost,
        Msg::Feed(FeedEvent::Disconnected {
            reason: "connection refused".into(),
            retry_in: std::time::Duration::from_secs(2),
        }),
    );
    update(&mut lost, Msg::Feed(FeedEvent::Dropped(3)));
    out.push(("disconnected, frozen, dropped", lost, 120, 32));

    let d = draft(Environment::Development, "PatientSearch", "Query");
    let text = template(&d);
    let mut answered = composing(d.clone(), &text);
    update(
        &mut answered,
        Msg::Sent(Ok(Answer {
            status: 200,
            body: Ok(
                serde_json::json!({"Meta": {"DataModel": "PatientSearch"}, "n": 1, "ok": true}),
            ),
            elapsed: std::time::Duration::from_millis(12),
            logs: Vec::new(),
        })),
    );
    out.push(("composer answered", answered, 120, 40));
    out.push((
        "composer editing",
        pressed(composing(d, &text), "i"),
        120,
        40,
    ));
    out.push(("composer picker", pressed(dev(), "c"), 120, 40));
    out
}

#[test]
fn every_theme_has_readable_contrast_in_every_view() {
    let mut failures = Vec::new();
    for (name, text) in BUILT_IN {
        let theme = Theme::parse(text, name).expect("a built-in theme");
        for (screen_name, mut app, width, height) in screens() {
            let terminal = render(&mut app, &theme, width, height);
            let buffer = terminal.backend().buffer();
            for (i, cell) in buffer.content.iter().enumerate() {
                let symbol = cell.symbol();
                if symbol.trim().is_empty() {
                    continue;
                }
                for (default_fg, default_bg) in defaults(name) {
                    let mut fg = rgb(cell.fg).unwrap_or(default_fg);
                    let mut bg = rgb(cell.bg).unwrap_or(default_bg);
                    if cell.modifier.contains(Modifier::REVERSED) {
                        std::mem::swap(&mut fg, &mut bg);
                    }
                    if cell.modifier.contains(Modifier::DIM) {
                        fg = blend(fg, bg);
                    }
                    let needed = if is_decoration(symbol) { 3.0 } else { 4.5 };
                    let got = ratio(fg, bg);
                    if got < needed {
                        let (x, y) = (i as u16 % buffer.area.width, i as u16 / buffer.area.width);
                        failures.push(format!(
                            "{name} / {screen_name}: {symbol:?} at ({x},{y}) {:?} on {:?} \
                             ({:?} on {:?}, {:?}) = {got:.2}:1, needs {needed}:1",
                            fg, bg, cell.fg, cell.bg, cell.modifier
                        ));
                    }
                }
            }
        }
    }
    // One line per distinct pair is enough to act on.
    failures.sort_by(|a, b| a.split(" at ").nth(1).cmp(&b.split(" at ").nth(1)));
    let mut seen = std::collections::BTreeSet::new();
    failures.retain(|f| {
        let theme = f.split(" / ").next().unwrap_or_default().to_string();
        let pair = f.split(") ").nth(1).unwrap_or_default().to_string();
        seen.insert((theme, pair))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_palette_and_ratios_match_known_values() {
    assert_eq!(indexed(16), (0, 0, 0));
    assert_eq!(indexed(231), (255, 255, 255));
    assert_eq!(indexed(208), (255, 135, 0));
    assert_eq!(indexed(232), (8, 8, 8));
    assert_eq!(indexed(255), (238, 238, 238));
    assert!((ratio((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
    // The bug report's pair: grey on grey is 1:1.
    assert!((ratio(indexed(8), indexed(8)) - 1.0).abs() < f64::EPSILON);
    assert!(ratio(indexed(7), indexed(15)) < 4.5);
}
